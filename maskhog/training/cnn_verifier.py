"""Training the CNN face verifier (``face_verifier.onnx``; needs the ``[cnn]`` extra).

Like the linear verifier (:func:`maskhog.training.verifier.train_verifier`),
it learns from what the templates propose at a low threshold in the training
and validation photos of their split, searched as they are and enlarged 1.5x:
proposals overlapping a face at IoU >= 0.5 are faces, below 0.25 background,
weighed half background, a quarter masked and a quarter unmasked faces.
Unlike it, it sees the 64x64 colour crop itself, through the small network of
:func:`maskhog.training.cnn.build_network` (narrower: 16-128 channels).

One photo in five is held out: after each epoch the network scores their
proposals, and the epoch and threshold kept are those that find the most
faces (mean recall of masked and unmasked) at precision 0.90 there. On the
same photos the detector's score rule is then chosen: the crop's face
log-odds averaged with its mirror image's, plus a weight (one of
``template_weights``) times the template's score, and its threshold
(:meth:`maskhog.detect.verify.CnnFaceVerifier.face_scores`). The test photos of
the split give the figures (docs/design.md#detector-cnn-verifier,
docs/design.md#verifier-score).
"""

from __future__ import annotations

import time

import numpy as np

from ..boxes import iou
from ..crops import CropSpec, crop_faces
from ..detect import MaskHog
from ..detect.looks import framed, look_frame
from ..detect.verify import FACE_CLASSES
from ..io import ImageError, read_image
from .. import tuning
from .cnn import export_onnx, fit_network, predict_logits, require_torch
from .scenes import split_scenes, training_face_photos
from .verifier import best_threshold, labelled, proposal_rows, test_figures

__all__ = ["CNN_VERIFIER", "WideProposer", "closeup_rows", "face_logits", "fit_and_judge", "row_scores",
           "score_rule", "train_cnn_verifier", "verifier_rows"]

#: The shipped CNN verifier's settings (docs/design.md#detector-cnn-verifier):
#:
#: * ``candidate_threshold``, ``scales``: proposals from that template score, in the photos as
#:   they are and enlarged 1.5x (-1.4: the templates propose more of the masked faces);
#: * ``face_iou``: the IoU with a face from which a proposal is a face to learn from (0.5:
#:   boxes that fit; 0.4 keeps boxes around whole heads);
#: * ``widths``, ``epochs``, ``lr``, ``batch``: the network and its training; ``crop_size`` 48
#:   (``crop_margin`` 0: the proposal's box alone) and ``channels_last`` batches rank the
#:   proposals as well as 64-px crops, in about 0.6 of the time;
#: * ``min_precision``, ``min_side``, ``held_out``: the precision the threshold keeps on the
#:   held-out photos (``photo % 5 == held_out``), for faces of ``min_side`` px;
#: * ``select_from``: the held-out photos are scored from that epoch on;
#: * ``closeups``: it also learns from the framed later looks at that many face photos and as
#:   many face-free squares (:func:`closeup_rows`; needs ``faces``;
#:   docs/design.md#detector-scene-misses);
#: * ``mirror``, ``template_weights``: the score rule's choices (:func:`score_rule`;
#:   docs/design.md#verifier-score);
#: * ``learn_network``: ``(logit, smallest face)`` of the proposal network's boxes it learns
#:   from, where the detector has one: more than the detector proposes at run time
#:   (:class:`WideProposer`).
CNN_VERIFIER = {"candidate_threshold": -1.4, "scales": (1.0, 1.5), "face_iou": 0.5, "widths": (16, 32, 64, 128),
                "epochs": 20, "lr": 0.01, "batch": 128, "min_precision": 0.90, "min_side": 24, "held_out": 0,
                "crop_size": 48, "channels_last": True, "select_from": 11,
                "closeups": 400, "mirror": True, "template_weights": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
                "learn_network": (1.5, 24)}


class WideProposer:
    """What the verifier learns from, where the detector has a proposal network: every template
    (the detector's first look leaves one out) and the network from a lower ``threshold`` and a
    smaller ``min_face``, every box kept: more crops to learn from, and more of the held-out
    faces kept (docs/design.md#detector-pnet)."""

    def __init__(self, detector, threshold: float, min_face: float):
        self.detector, self.logit, self.min_face = detector, float(threshold), float(min_face)

    def propose(self, image, threshold: float) -> list:
        faces = self.detector.template_faces(image, threshold)
        if np.ndim(image) == 3:
            faces += self.detector.network_faces(image, [], self.logit, self.min_face)
        return faces


def face_logits(net, crops) -> np.ndarray:
    """logit(face) - logit(background) of each crop: the verifier's score before the softmax."""
    if len(crops) == 0:
        return np.zeros(0)
    z = predict_logits(net, crops).astype(np.float64)
    return z[:, 1] - z[:, 0]


def row_scores(net, rows, mirror: bool = False) -> list:
    """Each row's face logits, all rows' crops in one pass of full batches (held-out photos
    are scored after every epoch; one call per photo and scale left most batches part-full);
    ``mirror``: of the crops' mirror images."""
    sizes = [0 if r["X"] is None else len(r["X"]) for r in rows]
    if not sum(sizes):
        return [np.zeros(0) for _ in rows]
    crops = np.concatenate([r["X"] for r in rows if r["X"] is not None])
    logits = face_logits(net, np.ascontiguousarray(crops[:, :, ::-1]) if mirror else crops)
    return np.split(logits, np.cumsum(sizes)[:-1])


def _rule_odds(net, rows, plain, mirror: bool) -> list:
    """Each row's face log-odds as :meth:`maskhog.detect.verify.CnnFaceVerifier.face_scores` takes
    them: ``plain`` (the rows' :func:`row_scores`), averaged with the mirror images' if ``mirror``."""
    if not mirror:
        return plain
    return [(a + b) / 2 for a, b in zip(plain, row_scores(net, rows, mirror=True))]


def _plus_template(odds, rows, weight: float) -> list:
    """The rule's scores: each row's ``odds`` plus ``weight`` times its templates' scores."""
    return [z + weight * np.array([f.score for f in r["faces"]]) for z, r in zip(odds, rows)]


def score_rule(net, held, plain, settings) -> tuple[dict, dict]:
    """The template weight (of ``settings["template_weights"]``) and threshold of the score
    the detector keeps proposals by, chosen like the epoch: the most held-out faces at the
    precision asked for (``plain``: the held-out rows' :func:`row_scores`). Returns the rule
    (the file's ``score`` entry) and its figures."""
    mirror = bool(settings.get("mirror", False))
    odds = _rule_odds(net, held, plain, mirror)
    best = None
    for weight in settings.get("template_weights", (0.0,)):
        found = best_threshold(held, _plus_template(odds, held, weight), settings)
        if found is not None and (best is None or found[0] > best[1][0]):
            best = (float(weight), found)
    if best is None:
        raise RuntimeError(f"no CNN verifier threshold reaches precision {settings['min_precision']} "
                           "on the held-out training photos")
    weight, (_, threshold, figures) = best
    return {"mirror": mirror, "template_weight": weight, "threshold": threshold}, figures


def _face_free_squares(scene_photos, n: int, rng) -> list:
    """Up to ``n`` squares of 60-300 px cut at random from ``{path: [(label, *box)]}`` photos
    where they overlap no annotated face (at most ``20 n`` tries)."""
    paths, squares = list(scene_photos), []
    for _ in range(20 * n):
        if len(squares) == n or not paths:
            break
        path = paths[rng.integers(len(paths))]
        try:
            image = read_image(path)
        except ImageError:
            paths.remove(path)
            continue
        h, w = image.shape[:2]
        if min(h, w) < 60:
            continue
        side = int(rng.integers(60, max(61, min(h, w, 300))))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        if all(iou((x, y, x + side, y + side), face[1:]) == 0 for face in scene_photos[path]):
            squares.append(image[y:y + side, x:x + side])
    return squares


def closeup_rows(faces, scene_photos, proposer, crop, n: int, seed: int, face_iou: float) -> list:
    """Training rows (as :func:`maskhog.training.verifier.proposal_rows` makes them) from the
    framed later looks.

    The looks shrink a photo in which no face was found and frame it in gray
    (:data:`maskhog.tuning.LOOKS`), and the verifier then judges what the templates (and
    dlib's pose templates) find there. Scene proposals never look like that, so the looks'
    verdicts were left to chance. Here ``n`` face photos of the detector's training groups
    (tight crops: the face fills the photo) and ``n`` face-free squares of the training scene
    photos are framed at each look: a detection overlapping the face photo's own rectangle at
    ``face_iou`` is a face; every detection in a face-free square is background; the others
    are left out (a loosely cropped photo's face need not fill it).
    """
    rng = np.random.default_rng(seed)
    people = training_face_photos(faces, seed)
    chosen = [people[i] for i in rng.choice(len(people), min(n, len(people)), replace=False)]
    squares = _face_free_squares(scene_photos, n, rng)
    rows = []
    for k, (image, is_face, bare) in enumerate(
            [(p, True, label == "without_mask") for p, label in chosen] + [(q, False, False) for q in squares]):
        if is_face:
            try:
                image = read_image(image)
            except ImageError:
                continue
        longer = max(image.shape[:2])
        for look in tuning.LOOKS:   # each framed look as the search makes it
            f, b = look_frame(longer, *look)
            seen = framed(image, f, b)
            found = proposer.detect(seen, verify=False)
            if not found:
                continue
            if is_face:   # 0.3: neither a face nor background (left out)
                rect = (b, b, seen.shape[1] - b, seen.shape[0] - b)
                overlaps = np.array([iou(face.box, rect) for face in found])
                overlaps = np.where(overlaps >= face_iou, overlaps, 0.3)
            else:
                overlaps = np.zeros(len(found))
            rows.append({"photo": -1 - k, "X": crop_faces(seen, [face.box for face in found], crop), "iou": overlaps,
                         "bare": np.full(len(found), bare)})
    return rows


def verifier_rows(scenes, proposer, settings, seed: int, describe, log_fn=print) -> tuple[list, list, list, list]:
    """The proposals the verifier learns from, is chosen on and is judged on, as
    :func:`maskhog.training.verifier.proposal_rows` rows (``describe(image, faces)`` fills each
    row's ``X``): ``(learn, held, test, learnt)``, where ``held`` is the fit photos' held-out
    fifth and ``learnt`` the scene photos (path -> boxes) the ``learn`` rows come from."""
    boxed, (train, val, test) = split_scenes(scenes, seed)
    photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
    scales, low = tuple(settings["scales"]), settings["candidate_threshold"]
    log_fn(f"CNN verifier: proposals in {len(train) + len(val)} training and {len(test)} test photos, "
           f"at scales {scales}")
    is_held = lambda k: k % 5 == settings["held_out"]   # noqa: E731
    wide = settings.get("learn_network")
    if wide and proposer.proposals is not None:
        # It learns from more than the detector proposes at run time (WideProposer); its
        # threshold and score rule are chosen on what the detector proposes.
        fit_rows = proposal_rows(train + val, photos, proposer, low, None, None, scales, describe=describe, keep=is_held)
        fit_rows += proposal_rows(train + val, photos, WideProposer(proposer, *wide), low, None, None, scales,
                               describe=describe, keep=lambda k: not is_held(k))
    else:
        fit_rows = proposal_rows(train + val, photos, proposer, low, None, None, scales, describe=describe)
    test_rows = proposal_rows(test, photos, proposer, low, None, None, scales, describe=describe)
    held = [r for r in fit_rows if is_held(r["photo"])]
    learn = [r for r in fit_rows if not is_held(r["photo"])]
    fit = train + val
    learnt = {fit[k]: photos[fit[k]] for k in {r["photo"] for r in learn}}
    return learn, held, test_rows, learnt


def fit_and_judge(learn, held, test_rows, settings, *, seed: int, threads: int, fallback: float,
                  log_fn=print) -> tuple:
    """Train the verifier's network on the ``learn`` rows, keep the epoch and threshold that
    find most ``held`` faces at the precision asked for, choose the score rule there, and
    judge both on ``test_rows``. Returns the network and the record's figures."""
    crops, y, weight = labelled(learn, settings["face_iou"])
    log_fn(f"CNN verifier: {len(y)} training crops ({int(y.sum())} faces), "
           f"{len({r['photo'] for r in held})} held-out photos")

    def select(net):
        found = best_threshold(held, row_scores(net, held), settings)
        if found is None:
            return -1.0, {"held_out_mean_recall": None}
        return found[0], {"held_out_mean_recall": round(found[0], 4), "threshold": found[1]}

    labels = [FACE_CLASSES[k] for k in y]
    net, fitted = fit_network(crops, labels, crops[:0], [], FACE_CLASSES, epochs=settings["epochs"],
                              batch=settings["batch"], lr=settings["lr"], seed=seed, threads=threads,
                              widths=tuple(settings["widths"]), sample_weight=weight, select=select,
                              select_from=int(settings.get("select_from", 1)),
                              channels_last=bool(settings.get("channels_last", False)),
                              log_fn=lambda m: log_fn(f"CNN verifier: {m}"))
    held_scores = row_scores(net, held)
    found = best_threshold(held, held_scores, settings)
    if found is None:
        raise RuntimeError(f"no CNN verifier threshold reaches precision {settings['min_precision']} "
                           "on the held-out training photos")
    _, logit_threshold, held_figures = found
    # The crop alone, as the later looks judge: on the face probability OpenCV's softmax gives.
    threshold = float(1 / (1 + np.exp(-logit_threshold)))
    # The detector's rule: mirror image and template score too, chosen on the same photos.
    rule, rule_figures = score_rule(net, held, held_scores, settings)
    test_scores = row_scores(net, test_rows)

    scales = tuple(settings["scales"])
    figures = {"threshold": round(threshold, 6), "logit_threshold": logit_threshold, "score": rule,
               "best_epoch": fitted["best_epoch"], "held_out_figures": rule_figures,
               "held_out_figures_crop_alone": held_figures,
               "test_crop_alone": test_figures(test_rows, test_scores, logit_threshold, fallback,
                                                settings, (1.0,), step=1.0)["test"],
               **test_figures(test_rows, _plus_template(_rule_odds(net, test_rows, test_scores, rule["mirror"]),
                                                         test_rows, rule["template_weight"]),
                               rule["threshold"], fallback, settings, scales, step=1.0, name="score_threshold"),
               "epochs": fitted["epochs"]}
    return net, figures


def train_cnn_verifier(scenes, *, templates=None, out, seed: int = 0, settings=CNN_VERIFIER, threads: int = 1,
                       faces=None, log_fn=print) -> dict:
    """Train the CNN face verifier and write it to ``out`` (an ONNX file with a maskhog header).

    Parameters
    ----------
    scenes : list of paths
        Pascal VOC folders, split as for the templates (seed ``seed``).
    templates : path, optional
        The templates' folder (default: the shipped ones).
    threads : int
        Torch threads (1 makes runs repeat exactly).
    faces : path, optional
        Class folders of tight face photos (with a ``manifest.csv`` of groups), for the
        ``closeups`` setting.

    Returns the training record, also kept in the file's header.
    """
    torch = require_torch()
    torch.set_num_threads(threads)
    start = time.time()
    crop = CropSpec(int(settings.get("crop_size", 64)), float(settings.get("crop_margin", 0.0)), False, color=True)
    if settings.get("closeups") and faces is None:
        raise ValueError("the CNN verifier also learns from close-ups of face photos: give the face folders")
    proposer = MaskHog(templates=templates, verifier=False)
    learn, held, test_rows, learnt = verifier_rows(
        scenes, proposer, settings, seed, lambda image, found: crop_faces(image, [f.box for f in found], crop),
        log_fn)
    photos = {"fit": len({r["photo"] for r in learn + held}), "held_out": len({r["photo"] for r in held}),
              "test": len({r["photo"] for r in test_rows})}
    if settings.get("closeups"):
        looks = closeup_rows(faces, learnt, proposer.with_pose(), crop, settings["closeups"], seed,
                              settings["face_iou"])
        log_fn(f"CNN verifier: {sum(len(r['X']) for r in looks)} detections in framed looks at "
               f"{settings['closeups']} face photos and as many face-free squares")
        learn += looks
    net, figures = fit_and_judge(learn, held, test_rows, settings, seed=seed, threads=threads,
                                  fallback=proposer.threshold, log_fn=log_fn)
    first = ("threshold", "logit_threshold", "score", "best_epoch")
    record = {"settings": dict(settings), "seed": seed, **{k: figures[k] for k in first}, "photos": photos,
              **{k: v for k, v in figures.items() if k not in first}}
    record["seconds"] = round(time.time() - start, 1)
    header = {"classes": list(FACE_CLASSES), "crop": crop.to_dict(), "input": {"size": crop.size, "channels": 3},
              "verifier": {"threshold": record["threshold"], "candidate_threshold": settings["candidate_threshold"],
                           "score": record["score"]},
              "record": record}
    export_onnx(net, out, header, crop.size, channels=3)
    log_fn(f"CNN verifier: score rule {record['score']} (held out: {record['held_out_figures']}); "
           f"test: {record['test']}; the crop alone from probability {record['threshold']}: {record['test_crop_alone']}")
    return record
