"""Soak test: `maskhog live` on a looping camera stream for N minutes, with event sinks on.

    python benchmarks/soak_live.py [--minutes 60] [--fps 30] [--events URL ...]

A camera that never ends, served by this script as an MJPEG stream on 127.0.0.1
(what many IP cameras serve) from a second process: 640x480 frames in which the
astronaut, bare-faced and then with a drawn mask, walks in and out every few
seconds, so people appear, change and leave all the time and every sink is fed.
`maskhog live --headless --stats` reads it as a user runs it (a subprocess).

Each minute the script samples the live process from /proc: resident memory,
open file descriptors and threads, and the frames per second of that minute
(from the frame counts of live's --stats lines). At the end it prints one row
per minute and the verdict: memory, descriptors and threads may grow at most
5% over the first minute's sample, and each minute's fps must stay within 10%
of the first minute's. Linux only (/proc).
"""

import argparse
import http.server
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time

import cv2
import numpy as np

from maskhog.io.demo import demo_images


def camera_frames(seconds_per_person: float = 3.0, fps: float = 30.0) -> list[bytes]:
    """One loop of the stream, JPEG-encoded: her bare face crossing, a pause, her masked face."""
    (_, bare), (_, masked) = demo_images()
    background = np.full((480, 640, 3), 90, np.uint8)
    face_side = 200
    frames = []
    steps = int(seconds_per_person * fps)
    for face in (bare, masked):
        small = cv2.resize(face, (face_side, face_side))
        for k in range(steps):
            frame = background.copy()
            x = int(20 + (640 - face_side - 40) * k / max(steps - 1, 1))
            frame[140:140 + face_side, x:x + face_side] = small
            frames.append(cv2.imencode(".jpg", frame)[1].tobytes())
        frames += [cv2.imencode(".jpg", background)[1].tobytes()] * int(fps)   # a second with nobody
    return frames


def serve(port_out, fps: float):
    """Serve the looping stream for ever (a child process, so its work is not live's)."""
    frames = camera_frames(fps=fps or 30.0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            k, start = 0, time.perf_counter()
            try:
                while True:
                    jpeg = frames[k % len(frames)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                     % len(jpeg) + jpeg + b"\r\n")
                    k += 1
                    if fps:
                        time.sleep(max(0.0, start + k / fps - time.perf_counter()))
            except OSError:
                pass

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(httpd.server_address[1])
    httpd.serve_forever()


def sample(pid: int) -> dict:
    """Resident memory (MB), open descriptors and threads of process ``pid``."""
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status") if ":" in line)
    return {"rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1), "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": int(status["Threads"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--interval", type=float, default=60, help="seconds between samples")
    parser.add_argument("--fps", type=float, default=30, help="the camera's rate (0: as fast as read)")
    parser.add_argument("--events", action="append", default=None,
                        help="event sink URLs for live (default: an SQLite file, where live has sinks)")
    args = parser.parse_args()

    ports = multiprocessing.get_context("spawn").Queue()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(ports, args.fps), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/"
    work = tempfile.mkdtemp(prefix="maskhog-soak-")
    command = [sys.executable, "-m", "maskhog", "live", url, "--headless", "--stats", "--retry", "forever"]
    help_text = subprocess.run([sys.executable, "-m", "maskhog", "live", "--help"],
                               capture_output=True, text=True).stdout
    sinks = args.events if args.events is not None else (
        [f"sqlite:///{work}/events.db"] if "--events" in help_text else [])
    for sink in sinks:
        command += ["--events", sink]
    print(f"# {' '.join(command)}", flush=True)

    events_out = open(os.path.join(work, "events.jsonl"), "w")
    live = subprocess.Popen(command, stdout=events_out, stderr=subprocess.PIPE, text=True)
    frames = {"count": 0}

    def read_stats():   # live's --stats lines: the frame count so far
        for line in live.stderr:
            if line.startswith("{"):
                frames["count"] = json.loads(line)["frames"]

    threading.Thread(target=read_stats, daemon=True).start()
    # The clock starts at live's first stats line: the models are loaded and the loop runs.
    while not frames["count"] and live.poll() is None:
        time.sleep(0.1)
    rows, start = [], time.perf_counter()
    last_frames, last_t = frames["count"], start
    try:
        while time.perf_counter() - start < args.minutes * 60:
            time.sleep(args.interval)
            if live.poll() is not None:
                sys.exit(f"live exited with {live.returncode} after {time.perf_counter() - start:.0f} s")
            now, count = time.perf_counter(), frames["count"]
            row = {"minute": round((now - start) / 60, 1), **sample(live.pid),
                   "fps": round((count - last_frames) / (now - last_t), 1)}
            last_frames, last_t = count, now
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        live.terminate()
        try:
            live.wait(timeout=15)
        except subprocess.TimeoutExpired:
            live.kill()
        server.terminate()
        events_out.close()

    # Growth and fps are judged against the first sample, taken once the loop has run a minute.
    first, verdicts = rows[0], []
    for key in ("rss_mb", "fds", "threads"):
        worst = max(r[key] for r in rows)
        growth = worst / max(first[key], 1e-9) - 1
        verdicts.append((f"{key}: first {first[key]:.1f}, most {worst:.1f}, growth {100 * growth:+.1f}%",
                         growth <= 0.05))
    low = min(r["fps"] for r in rows)
    verdicts.append((f"fps: first {first['fps']}, lowest {low} ({100 * (low / max(first['fps'], 1e-9) - 1):+.1f}%)",
                     low >= 0.9 * first["fps"]))
    events = sum(1 for _ in open(os.path.join(work, "events.jsonl")))
    print(f"# {len(rows)} samples over {args.minutes} min; {events} events on stdout; "
          f"live exited {live.returncode} on SIGTERM")
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'} {text}")
    sys.exit(0 if all(ok for _, ok in verdicts) else 1)


if __name__ == "__main__":
    main()
