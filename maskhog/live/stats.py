"""What the live loop reports about itself: frame rate, latencies, memory, time per stage."""

from __future__ import annotations

import numpy as np

__all__ = ["peak_rss_mb", "live_stats"]


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    Linux's VmHWM starts afresh at exec; getrusage's maximum would include the
    parent's memory at fork, which misleads when a benchmark spawns us.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def live_stats(frames, seconds, latencies, verdicts, stage) -> dict:
    """The stats record: frames, frames per second, latency percentiles (ms), peak memory (MB)
    and per-stage milliseconds per frame."""
    lat = np.array(latencies) if latencies else np.zeros(1)
    ver = np.array(verdicts) if verdicts else np.zeros(1)
    return {"frames": frames, "fps": round(frames / max(seconds, 1e-9), 1),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 2),
            "latency_ms_p95": round(float(np.percentile(lat, 95)), 2),
            "verdict_ms_p95": round(float(np.percentile(ver, 95)), 2),
            "rss_mb": peak_rss_mb(),
            "stage_ms": {k: round(v * 1000 / max(frames, 1), 3) for k, v in stage.items()}}
