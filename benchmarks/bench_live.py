"""Live video: maskhog's loop against the AIZOO SSD peer, on the same generated video.

    python benchmarks/bench_live.py [--data ../shared/data] [--seconds 60] [--stage svm|cnn|cascade]
                                    [--sinks URL ...]

Builds a reproducible 640x480, 30-fps video: faces cut (with context) from
held-out scene photos (the shipped classifier's test split, faces of 40 px or
more, with_mask and without_mask) glide across a blurred background of
face-free pieces of scene photos,
three at a time, each person on screen for two seconds (a lane stays empty for half
a second between people). Then, in the
same run and on the same frames:

* ``maskhog live --headless --stats`` (a subprocess, as a user runs it), once
  as fast as it goes (every frame: fps) and once with ``--realtime`` (paced
  at 30 fps, newest frame only: the latency a camera user sees);
* the AIZOO SSD (`../shared/models/aizoo-ssd`, Caffe through OpenCV 4.x's
  ``cv2.dnn``, our own anchor decoding), on every frame, one thread.

It prints frames per second, latency p50 / p95, peak memory, and per-person
accuracy: the label each tool gives a person (maskhog: the track's smoothed
label when it leaves; SSD: the majority of its per-frame labels), against
the truth. Targets: >= 60 fps, p95 <= 50 ms, peak RSS <= 250 MB, >= 1.5x the
SSD's fps, accuracy >= the SSD's.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from maskhog.detect.dnn import aizoo_anchors, decode_anchors

HERE = Path(__file__).resolve().parent
W, H, FPS = 640, 480, 30


def people(data, n, seed=0):
    """n labelled face patches (face plus context) from held-out scene photos of ``data``
    (faces/ and scenes/, read together so that the split is the shipped classifier's)."""
    from maskhog.training.data import group_split
    from maskhog.io import read_image

    _, _, test = group_split(data, (0.7, 0.15, 0.15), seed=0)
    samples = [data.samples[i] for i in test if data.samples[i].box is not None
               and data.samples[i].label in ("with_mask", "without_mask")
               and min(data.samples[i].box[2] - data.samples[i].box[0],
                       data.samples[i].box[3] - data.samples[i].box[1]) >= 40]
    rng = np.random.default_rng(seed)
    by_label = {c: [s for s in samples if s.label == c] for c in ("with_mask", "without_mask")}
    chosen = [by_label[c][i] for k in range(n) for c in [("with_mask", "without_mask")[k % 2]]
              for i in [rng.integers(len(by_label[c]))]]
    out = []
    for s in chosen:
        img = read_image(s.path)
        x1, y1, x2, y2 = s.box
        side = max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        half = side * 0.9   # face plus context: detectors need some head and shoulders
        region = cv2.copyMakeBorder(img, 200, 200, 200, 200, cv2.BORDER_REFLECT)
        ox, oy = int(cx - half) + 200, int(cy - half) + 200
        patch = region[oy:oy + int(2 * half), ox:ox + int(2 * half)]
        out.append((patch, side / (2 * half), s.label))
    return out


def background(data, seed=2, tile=160):
    """A blurred 640x480 mosaic of pieces of ``data``'s scene photos that hold no annotated face.

    The truth must know every face in the video: a face in the background would
    be found, tracked, and could lend its track to a person who walks in front.
    """
    from maskhog.io import read_image

    faces = {}
    for s in data.samples:
        if s.box is not None:   # the annotated faces of scene photos
            faces.setdefault(s.path, []).append(s.box)
    paths = sorted(faces)
    rng = np.random.default_rng(seed)
    bg = np.zeros((H, W, 3), np.uint8)
    for y in range(0, H, tile):
        for x in range(0, W, tile):
            while True:
                path = paths[rng.integers(len(paths))]
                img = read_image(path)
                if min(img.shape[:2]) <= tile:
                    continue
                ty, tx = (int(rng.integers(d - tile)) for d in img.shape[:2])
                # no face, nor a face's head and shoulders (a side around each box), in the piece
                if all(tx + tile <= x1 - (x2 - x1) or tx >= x2 + (x2 - x1) or
                       ty + tile <= y1 - (y2 - y1) or ty >= y2 + 2 * (y2 - y1)
                       for x1, y1, x2, y2 in faces[path]):
                    break
            bg[y:y + tile, x:x + tile] = img[ty:ty + tile, tx:tx + tile]
    return cv2.GaussianBlur(bg, (0, 0), 8)


def make_video(path, data_root, seconds):
    """Write the video; return the truth: per person, label and (frame, box) list."""
    from maskhog.training.data import load_datasets

    data = load_datasets([data_root / "faces", data_root / "scenes"])
    bg = background(data)
    n_frames = seconds * FPS
    life, gap = 2 * FPS, FPS // 2
    # Three lanes, staggered; in each, a person walks on after the last one has been gone for
    # half a second (people do not swap places on the spot), and only people who stay their
    # whole two seconds are in the video.
    schedule = sorted((lane * (life // 3) + j * (life + gap), lane)
                      for lane in range(3) for j in range(n_frames // (life + gap) + 1)
                      if lane * (life // 3) + j * (life + gap) + life <= n_frames)
    patches = people(data, len(schedule))
    rng = np.random.default_rng(1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    truth = []
    for (start, lane), (patch, face_frac, label) in zip(schedule, patches):
        size = int(rng.integers(130, 190))             # patch side: the face is ~100 px
        lane = lane * (W // 3) + 10
        y = int(rng.integers(40, H - size - 10))
        truth.append({"label": label, "start": start, "end": start + life,
                      "patch": cv2.resize(patch, (size, size)), "lane": lane, "y": y,
                      "face": face_frac, "boxes": {}})
    for f in range(n_frames):
        frame = bg.copy()
        for t in truth:
            if t["start"] <= f < t["end"]:
                patch = t["patch"]
                size = patch.shape[0]
                x = t["lane"] + int((f - t["start"]) * 0.5)   # glides right, 15 px a second
                x = min(x, W - size)
                frame[t["y"]:t["y"] + size, x:x + size] = patch
                face = size * t["face"]
                c = (x + size / 2, t["y"] + size / 2)
                t["boxes"][f] = (c[0] - face / 2, c[1] - face / 2, c[0] + face / 2, c[1] + face / 2)
        writer.write(frame)
    writer.release()
    return truth, n_frames


def truth_at(truth, frame, box):
    """The person whose true box at ``frame`` overlaps ``box`` most (IoU >= 0.3)."""
    from maskhog.boxes import iou as box_iou

    best, best_iou = None, 0.3
    for k, t in enumerate(truth):
        overlap = box_iou(t["boxes"][frame], box) if frame in t["boxes"] else 0.0
        if overlap >= best_iou:
            best, best_iou = k, overlap
    return best


def run_maskhog(video, realtime=False, stage="svm", extra=()):
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "maskhog.cli", "live", str(video), "--headless",
                          "--stats", "--stage", stage, *extra] + (["--realtime"] if realtime else []),
                         capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    events = [json.loads(line) for line in out.stdout.splitlines()]
    stats = json.loads(out.stderr.strip().splitlines()[-1])
    return events, stats, wall


class AizooSSD:
    """The CNN peer: 260x260 SSD, anchors and decoding as its data README gives them
    (maskhog.dnn_detect holds both; ``maskhog --detector-model`` runs it as a face detector)."""

    def __init__(self, folder):
        self.net = cv2.dnn.readNetFromCaffe(str(folder / "face_mask_detection.prototxt"),
                                            str(folder / "face_mask_detection.caffemodel"))
        self.anchors = aizoo_anchors()

    def __call__(self, bgr, threshold=0.5):
        h, w = bgr.shape[:2]
        self.net.setInput(cv2.dnn.blobFromImage(bgr, 1 / 255.0, (260, 260), swapRB=True))
        loc, cls = self.net.forward(["loc_branch_concat", "cls_branch_concat"])
        boxes = decode_anchors(loc.reshape(-1, 4), self.anchors) * [w, h, w, h]
        cls = cls.reshape(-1, 2)
        score = cls.max(1)
        keep = score >= threshold
        boxes = boxes[keep]
        labels = np.where(cls[keep].argmax(1) == 0, "with_mask", "without_mask")
        idx = cv2.dnn.NMSBoxes([[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
                                for b in boxes], score[keep].astype(float).tolist(), threshold, 0.4)
        return [(tuple(boxes[i]), labels[i]) for i in np.asarray(idx).ravel()]


def run_ssd(video, folder):
    """The peer in a fresh process (so that its memory figure is its own)."""
    out = subprocess.run([sys.executable, __file__, "--ssd-only", str(video), "--data", str(folder)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    return [[(tuple(b), label) for b, label in frame] for frame in result["outputs"]], result["stats"]


def _ssd_process(video, folder):
    cv2.setNumThreads(1)
    ssd = AizooSSD(folder)
    cap = cv2.VideoCapture(str(video))
    outputs, latencies = [], []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        ok, frame = cap.read()
        if not ok:
            break
        outputs.append(ssd(frame))
        latencies.append((time.perf_counter() - t0) * 1000)
    wall = time.perf_counter() - start
    from maskhog.live import peak_rss_mb
    print(json.dumps({"outputs": [[([float(v) for v in b], str(label)) for b, label in frame]
                                  for frame in outputs],
                      "stats": {"frames": len(outputs), "fps": round(len(outputs) / wall, 1),
                                "latency_ms_p50": round(float(np.percentile(latencies, 50)), 2),
                                "latency_ms_p95": round(float(np.percentile(latencies, 95)), 2),
                                "rss_mb": peak_rss_mb()}}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--seconds", type=int, default=60,
                        help="Length of the video (60 s: 70 people).")
    parser.add_argument("--stage", choices=["svm", "cnn", "cascade"], default="cascade",
                        help="maskhog's classifier (maskhog live --stage).")
    parser.add_argument("--live-args", default="",
                        help="More options for maskhog live, e.g. '--detect-every 1'.")
    parser.add_argument("--sinks", action="append", default=[], metavar="URL",
                        help="Also time live with these --events sinks against none, alternately "
                             "(repeatable; e.g. sqlite:///tmp/e.db and mqtt://127.0.0.1:1883/bench)")
    parser.add_argument("--ssd-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ssd_only:
        return _ssd_process(args.ssd_only, args.data)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "bench.avi"
        truth, n_frames = make_video(video, args.data, args.seconds)
        extra = args.live_args.split()
        events, ours, wall = run_maskhog(video, stage=args.stage, extra=extra)
        ssd_out, peer = run_ssd(video, args.data.parent / "models" / "aizoo-ssd")
        events_rt, ours_rt, _ = run_maskhog(video, realtime=True, stage=args.stage, extra=extra)
        # Sinks against none, alternately, so the machine's drift falls on both alike.
        with_sinks, without = [], []
        for _ in range(3 if args.sinks else 0):
            without.append(run_maskhog(video, stage=args.stage, extra=extra)[1]["fps"])
            sinks = [a for url in args.sinks for a in ("--events", url)]
            with_sinks.append(run_maskhog(video, stage=args.stage, extra=extra + sinks)[1]["fps"])

    # Per person: a track is the person it appeared on; its label is the smoothed label it
    # had when it left. The SSD's label for a person is the majority of its frame labels.
    person, said = {}, {}
    for e in events:
        if e["event"] == "appeared":
            person[e["track_id"]] = truth_at(truth, e["frame"], e["box"])
        k = person.get(e["track_id"])
        if e["event"] == "left" and k is not None:
            said.setdefault(k, e["label"])
    votes = {}
    for f, dets in enumerate(ssd_out):
        for box, label in dets:
            k = truth_at(truth, f, box)
            if k is not None:
                votes.setdefault(k, Counter())[label] += 1
    n = len(truth)
    acc_ours = sum(said.get(k) == t["label"] for k, t in enumerate(truth)) / n
    acc_ssd = sum(votes[k].most_common(1)[0][0] == t["label"] if k in votes else False
                  for k, t in enumerate(truth)) / n
    found_ours, found_ssd = len(said) / n, len(votes) / n
    right_ours = sum(said[k] == truth[k]["label"] for k in said) / max(len(said), 1)
    right_ssd = sum(v.most_common(1)[0][0] == truth[k]["label"] for k, v in votes.items()) / max(len(votes), 1)
    print(f"video: {n_frames} frames of {W}x{H} at {FPS} fps, {n} people "
          f"({Counter(t['label'] for t in truth)})\n")
    print(f"{'tool':<22} | {'fps':>6} | {'p50 ms':>6} | {'p95 ms':>6} | {'peak MB':>7} | {'people right':>12}")
    print(f"{'maskhog live, ' + args.stage:<22} | {ours['fps']:>6} | {ours['latency_ms_p50']:>6} | "
          f"{ours['latency_ms_p95']:>6} | {ours['rss_mb']:>7} | {acc_ours:>12.2f}")
    print(f"{'maskhog live, realtime':<22} | {ours_rt['fps']:>6} | {ours_rt['latency_ms_p50']:>6} | "
          f"{ours_rt['latency_ms_p95']:>6} | {ours_rt['rss_mb']:>7} | {'':>12}")
    print(f"{'AIZOO SSD (cv2.dnn)':<22} | {peer['fps']:>6} | {peer['latency_ms_p50']:>6} | "
          f"{peer['latency_ms_p95']:>6} | {peer['rss_mb']:>7} | {acc_ssd:>12.2f}")
    print(f"\npeople found at all: maskhog {found_ours:.2f}, SSD {found_ssd:.2f}; labelled right "
          f"among those found: maskhog {right_ours:.2f}, SSD {right_ssd:.2f}")
    print(f"maskhog capture-to-verdict p95: {ours.get('verdict_ms_p95', '-')} ms "
          f"(realtime: {ours_rt.get('verdict_ms_p95', '-')} ms)")
    if args.sinks:
        print(f"live with sinks {' '.join(args.sinks)}: fps {with_sinks} against {without} without; "
              f"{sum(with_sinks) / sum(without):.1%} of the frame rate without")
    print(f"maskhog / SSD frames per second: {ours['fps'] / peer['fps']:.2f}x; "
          f"maskhog stages (ms per frame): {ours['stage_ms']}; whole command {wall:.1f} s")


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
