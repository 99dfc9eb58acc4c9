"""Lesson 8 of the course (docs/course/08-real-time-loop.md): a real-time loop on 2 cores.

A generated clip (the three-face picture drifting to the right, 60 frames)
runs through the live loop as `maskhog live --stats` runs it: faces found
every 3rd frame, held still in between, verdicts on a worker thread. The
chart is the loop's own per-stage time per frame, from its stats record.

    python examples/course_08_live.py --out docs/course/figures
"""

import tempfile
from pathlib import Path

import cv2
import numpy as np

from course_faces import figure, run, save
from maskhog import tuning
from maskhog.classify import make_classifier
from maskhog.io.demo import three_faces
from maskhog.live import LiveConfig, run_live
from maskhog.pipeline import MaskDetector


def write_clip(path: Path, frames: int = 60) -> Path:
    picture = three_faces()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, picture.shape[1::-1])
    for k in range(frames):
        writer.write(np.roll(picture, k, axis=1))   # 1 px a frame to the right
    writer.release()
    return path


def main(out):
    cv2.setNumThreads(2)
    finder = MaskDetector(model=make_classifier(threshold=tuning.LIVE_CASCADE_THRESHOLD), second_look=False)
    events = []
    with tempfile.TemporaryDirectory() as tmp:
        stats = run_live(str(write_clip(Path(tmp) / "clip.avi")), finder, config=LiveConfig(detect_every=3),
                         on_event=events.append)
    stages = stats["stage_ms"]
    fig = figure(7, 3)
    ax = fig.subplots()
    ax.barh(list(stages), list(stages.values()), color="#4393c3")
    for y, v in enumerate(stages.values()):
        ax.text(v, y, f" {v:.2f} ms", va="center", fontsize=8)
    ax.set_xlabel("milliseconds per frame")
    ax.set_title(f"{stats['frames']} frames of 640x480 at {stats['fps']:.0f} frames/s; "
                 f"{len(events)} events; p95 latency {stats['latency_ms_p95']:.0f} ms", fontsize=9)
    save(fig, out, "08-stage-times.png")


if __name__ == "__main__":
    run(main, __doc__)
