"""Which proposers to ship: the templates (both, or one) beside the P-Net from which smallest
face and logit, judged by the verifier trained on both (``fv_union1.onnx``, train_verifier.py).

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/detector-pnet/choose.py gather      # about 1 minute: /tmp/pnet/choose.pkl
    ... choose.py table

``gather`` records each proposal of the held-out fifth and the test photos with the template
that made it (0: scenes, 1: pasted faces) or the P-Net scan it came from (smallest face 24, 32,
41 or 48 px, logit >= 1.5), and the verifier's odds of its crop and mirror image. ``table``
picks each configuration's threshold on the held-out fifth (the most mean recall at precision
>= 0.90, as e2e.py) and counts the test photos; P-Net boxes overlapping a template box at IoU
>= 0.5 are left out, as the detector does.
"""
import pickle
import sys
from pathlib import Path

import cv2
import dlib
import numpy as np
import torch

from maskhog.crops import crop_faces
from maskhog.detect import Face, MaskHog, _faces, _gray_within, merge_duplicates
from maskhog.detector_training import _detection_figures
from maskhog.io import read_image
from maskhog.verify import CnnFaceVerifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pnet_common as P  # noqa: E402

CACHE = Path("/tmp/pnet/choose.pkl")
VERIFIER = CnnFaceVerifier("/tmp/pnet/fv_union1.onnx")


def gather(paths, boxed, net, templates):
    def odds(c):
        z = VERIFIER.net.logits(np.ascontiguousarray(c))
        return z[:, 1] - z[:, 0]

    rows = []
    for path in paths:
        image = read_image(path)
        gray, f = _gray_within(image)
        rects, scores, which = dlib.fhog_object_detector.run_multiple(templates._detectors(MaskHog.TEMPLATES), gray, 0, -1.4)
        found = _faces(rects, scores, f)
        boxes, src, raw = [x.box for x in found], [0] * len(found), [x.score for x in found]
        tid, sizes = list(which), [0] * len(found)
        for min_face in (24, 32, 41, 48):
            for b, s in zip(*P.scan(net, image, threshold=1.5, min_face=min_face)):
                boxes.append(tuple(int(round(v)) for v in b))
                src.append(1), raw.append(s), tid.append(-1), sizes.append(min_face)
        z = np.zeros(0)
        if boxes:
            crops = crop_faces(image, boxes, VERIFIER.crop)
            z = (odds(crops) + odds(crops[:, :, ::-1])) / 2
        rows.append((boxes, np.array(src), np.array(raw, float), z, np.array(tid), np.array(sizes),
                     [(label, *box) for label, box in boxed[path]]))
    return rows


def score(src, raw, z):
    """The verifier's own rule: P-Net boxes were given the template score -1.4 in its training."""
    return z + VERIFIER.template_weight * np.where(src == 0, raw, -1.4)


def used(row, templates, min_face, low):
    """Which proposals of a photo a configuration judges."""
    boxes, src, raw, z, tid, sizes, _ = row
    use = (src == 0) & np.isin(tid, templates)
    if min_face:
        net = (src == 1) & (sizes == min_face) & (raw >= low)
        if use.any() and net.any():
            b = np.array(boxes, float)
            taken = P.iou_matrix(b[net], b[use]).max(1) >= 0.5
            net[np.flatnonzero(net)[taken]] = False
        use |= net
    return use


def figures(rows, t, config):
    per_photo = []
    for row in rows:
        boxes, src, raw, z = row[:4]
        keep = [Face(b, float(v)) for b, v, u in zip(boxes, score(src, raw, z), used(row, *config)) if u and v >= t]
        per_photo.append((merge_duplicates(keep), row[-1]))
    return _detection_figures(per_photo, 24)


def choose(rows, config):
    values = np.concatenate([score(*r[1:4])[used(r, *config)] for r in rows])
    best = None
    for t in np.unique(np.quantile(values, np.linspace(0.5, 0.995, 100))):
        f = figures(rows, t, config)
        if f["precision"] >= 0.90:
            m = (f["recall_with_mask"] + f["recall_without_mask"]) / 2
            if best is None or m > best[0]:
                best = (m, t, f)
    return best


def main():
    if sys.argv[1:] == ["gather"]:
        cv2.setNumThreads(1)
        torch.set_num_threads(1)
        boxed, _, held, test = P.split()
        net, templates = P.load_net("/tmp/pnet/re/p16s4.pt"), MaskHog(verifier=False, proposals=False)
        parts = {"held": gather(held, boxed, net, templates), "test": gather(test, boxed, net, templates)}
        CACHE.write_bytes(pickle.dumps(parts))
        return
    parts = pickle.loads(CACHE.read_bytes())
    names = {(0, 1): "both templates", (0,): "scenes template", (1,): "pasted-face template"}
    print("| templates | P-Net from | logit | held: mean recall, precision | test: masked / unmasked / badly worn, "
          "precision | proposals a test photo |")
    print("|---|---|---|---|---|---|")
    configs = [(t, 0, 0) for t in names]
    configs += [(t, m, lo) for t in names for m in (24, 32, 41, 48) for lo in (1.5, 2.5) if m != 32 or lo == 2.5]
    for config in configs:
        m, t, f = choose(parts["held"], config)
        g = figures(parts["test"], t, config)
        n = np.mean([used(r, *config).sum() for r in parts["test"]])
        net = f"{config[1]} px | {config[2]}" if config[1] else "- | -"
        print(f"| {names[config[0]]} | {net} | {m:.3f}, {f['precision']:.3f} | {g['recall_with_mask']:.3f} / "
              f"{g['recall_without_mask']:.3f} / {g['recall_incorrect_mask']:.2f}, {g['precision']:.3f} | {n:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
