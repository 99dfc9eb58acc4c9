"""Live video: frames in, one event per person and change of state out.

================  =========================================================
:mod:`.loop`      :func:`run_live`, the loop, and :class:`LiveConfig`, its knobs
:mod:`.threads`   the frame-reading and verdict threads
:mod:`.tracks`    a track per person, and its smoothed label
:mod:`.stats`     frame rate, latencies, memory, time per stage
:mod:`.preview`   the window, where OpenCV has a GUI
:mod:`.record`    ``--record``: what the window shows, as a video file
================  =========================================================
"""

from .loop import LiveConfig, run_live
from .stats import peak_rss_mb
from .tracks import Track

__all__ = ["LiveConfig", "Track", "peak_rss_mb", "run_live"]
