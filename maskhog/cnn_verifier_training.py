"""Training the CNN face verifier (``face_verifier.onnx``; needs the ``[cnn]`` extra).

Like the linear verifier (:func:`maskhog.detector_training.train_verifier`),
it learns from what the templates propose at a low threshold in the training
and validation photos of their split, searched as they are and enlarged 1.5x:
proposals overlapping a face at IoU >= 0.5 are faces, below 0.25 background,
weighed half background, a quarter masked and a quarter unmasked faces.
Unlike it, it sees the 64x64 colour crop itself, through the small network of
:func:`maskhog.cnn_training.build_network` (narrower: 16-128 channels).

One photo in five is held out: after each epoch the network scores their
proposals, and the epoch and threshold kept are those that find the most
faces (mean recall of masked and unmasked) at precision 0.90 there. On the
same photos the detector's score rule is then chosen: the crop's face
log-odds averaged with its mirror image's, plus a weight (one of
``template_weights``) times the template's score, and its threshold
(:meth:`maskhog.verify.CnnFaceVerifier.face_scores`). The test photos of the
split give the figures. Docs: ``docs/studies/detector-cnn-verifier``,
``docs/studies/verifier-score``.
"""

from __future__ import annotations

import time

import numpy as np

from .cnn_training import _predict_logits, export_onnx, fit_network, require_torch
from .crops import CropSpec, crop_faces
from .detect import MaskHog
from .detector_training import _best_threshold, _labelled, _proposals, _split_scenes, _test_figures
from .verify import FACE_CLASSES

__all__ = ["CNN_VERIFIER", "train_cnn_verifier"]

#: The shipped CNN verifier's settings: proposals from the template score ``candidate_threshold``
#: at ``scales`` (-1.4: the templates propose more of the masked faces, and on the test photos
#: it found 0.78 / 0.64 at precision 0.92 against 0.75 / 0.60 at 0.93 from -0.9, for 1.3x the
#: detection time; docs/studies/detector-cnn-verifier/REPORT.md); the IoU with a face from
#: which a proposal is a face to learn from (0.5: boxes that fit; at 0.4 it kept boxes around
#: whole heads, and on the test photos found 0.74 / 0.56 at precision 0.92 against 0.75 / 0.60
#: at 0.93); network widths, epochs, learning rate and batch; the precision its threshold must
#: keep on the held-out photos (``photo % 5 == held_out``), for faces of ``min_side`` px.
#: ``crop_size`` 48 (with ``crop_margin`` 0, the default: the proposal's box alone) and
#: ``channels_last`` batches: 48-px runs rank the scene proposals as well as the best 64-px
#: run, and train in about 0.6 of the time; ``select_from``: the held-out photos are scored from
#: epoch 11 on (the runs kept epochs 13 to 20); ``closeups``: it also learns from the framed
#: later looks at 400 face photos and as many face-free squares (:func:`_closeup_rows`; needs
#: ``faces``), so that the looks' verdicts are learned rather than left to each run's chance
#: (docs/studies/detector-scene-misses/REPORT.md, section 4); ``mirror`` and ``template_weights``:
#: the score rule's choices (:func:`_score_rule`; docs/studies/verifier-score/REPORT.md). Optional,
#: and not used by the shipped recipe: ``background_keep`` (default 1: all) trains on that seeded
#: share of the background proposals only; ``pasted`` also learns from that many face photos
#: pasted into training scenes (:func:`_pasted_rows`); ``unboxed_after`` and ``unboxed_odds``
#: leave out, after that epoch, the background crops the network gives face log-odds of at least
#: that (many are faces the annotators did not box). Neither of the last two found more test
#: faces (docs/studies/verifier-data/REPORT.md). ``learn_network``: where the detector has a
#: proposal network, the verifier learns from more proposals than the detector makes at run
#: time, the network's from that logit and smallest face among them (:class:`_WideProposer`).
CNN_VERIFIER = {"candidate_threshold": -1.4, "scales": (1.0, 1.5), "face_iou": 0.5, "widths": (16, 32, 64, 128),
                "epochs": 20, "lr": 0.01, "batch": 128, "min_precision": 0.90, "min_side": 24, "held_out": 0,
                "background_keep": 1.0, "crop_size": 48, "channels_last": True, "select_from": 11,
                "closeups": 400, "mirror": True, "template_weights": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
                "learn_network": (1.5, 24)}


class _WideProposer:
    """What the verifier learns from, where the detector has a proposal network: every template
    (the detector's first look leaves one out) and the network from a lower ``threshold`` and a
    smaller ``min_face``, every box kept. Trained so, the shipped recipe learned from 85,144
    crops (10,173 faces) rather than 35,159 (4,061), in 932 s rather than 472, and kept more of
    the held-out faces: mean recall 0.805 against 0.782 (docs/studies/detector-pnet/REPORT.md)."""

    def __init__(self, detector, threshold: float, min_face: float):
        self.detector, self.logit, self.min_face = detector, float(threshold), float(min_face)

    def propose(self, image, threshold: float) -> list:
        faces = self.detector._template_faces(image, threshold)
        if np.ndim(image) == 3:
            faces += self.detector._network_faces(image, [], self.logit, self.min_face)
        return faces


def _face_logit(net, crops) -> np.ndarray:
    """logit(face) - logit(background) of each crop: the verifier's score before the softmax."""
    if len(crops) == 0:
        return np.zeros(0)
    z = _predict_logits(net, crops).astype(np.float64)
    return z[:, 1] - z[:, 0]


def _scores(net, rows, mirror: bool = False) -> list:
    """Each row's face logits, all rows' crops in one pass of full batches (held-out photos
    are scored after every epoch; one call per photo and scale left most batches part-full);
    ``mirror``: of the crops' mirror images."""
    sizes = [0 if r["X"] is None else len(r["X"]) for r in rows]
    if not sum(sizes):
        return [np.zeros(0) for _ in rows]
    crops = np.concatenate([r["X"] for r in rows if r["X"] is not None])
    logits = _face_logit(net, np.ascontiguousarray(crops[:, :, ::-1]) if mirror else crops)
    return np.split(logits, np.cumsum(sizes)[:-1])


def _rule_odds(net, rows, plain, mirror: bool) -> list:
    """Each row's face log-odds as :meth:`maskhog.verify.CnnFaceVerifier.face_scores` takes
    them: ``plain`` (the rows' :func:`_scores`), averaged with the mirror images' if ``mirror``."""
    if not mirror:
        return plain
    return [(a + b) / 2 for a, b in zip(plain, _scores(net, rows, mirror=True))]


def _plus_template(odds, rows, weight: float) -> list:
    """The rule's scores: each row's ``odds`` plus ``weight`` times its templates' scores."""
    return [z + weight * np.array([f.score for f in r["faces"]]) for z, r in zip(odds, rows)]


def _score_rule(net, held, plain, settings) -> tuple[dict, dict]:
    """The template weight (of ``settings["template_weights"]``) and threshold of the score
    the detector keeps proposals by, chosen like the epoch: the most held-out faces at the
    precision asked for (``plain``: the held-out rows' :func:`_scores`). Returns the rule
    (the file's ``score`` entry) and its figures."""
    mirror = bool(settings.get("mirror", False))
    odds = _rule_odds(net, held, plain, mirror)
    best = None
    for weight in settings.get("template_weights", (0.0,)):
        found = _best_threshold(held, _plus_template(odds, held, weight), settings)
        if found is not None and (best is None or found[0] > best[1][0]):
            best = (float(weight), found)
    if best is None:
        raise RuntimeError(f"no CNN verifier threshold reaches precision {settings['min_precision']} "
                           "on the held-out training photos")
    weight, (_, threshold, figures) = best
    return {"mirror": mirror, "template_weight": weight, "threshold": threshold}, figures


def _fewer_backgrounds(crops, y, weight, keep: float, seed: int):
    """A seeded ``keep`` share of the background crops (label 0) and every face; the kept
    backgrounds share the backgrounds' weight (a lower template threshold proposes many more
    backgrounds than faces, and the training time grows with them)."""
    background = np.flatnonzero(y == 0)
    dropped = np.random.default_rng(seed).choice(background, int(round(len(background) * (1 - keep))),
                                                 replace=False)
    kept = np.ones(len(y), bool)
    kept[dropped] = False
    crops, y, weight = crops[kept], y[kept], weight[kept].copy()
    weight[y == 0] *= len(background) / max(1, (y == 0).sum())
    return crops, y, weight


def _face_free_squares(scene_photos, n: int, rng) -> list:
    """Up to ``n`` squares of 60-300 px cut at random from ``{path: [(label, *box)]}`` photos
    where they overlap no annotated face (at most ``20 n`` tries)."""
    from .detect import box_iou
    from .io import ImageError, read_image

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
        if all(box_iou((x, y, x + side, y + side), face[1:]) == 0 for face in scene_photos[path]):
            squares.append(image[y:y + side, x:x + side])
    return squares


def _closeup_rows(faces, scene_photos, proposer, crop, n: int, seed: int, face_iou: float) -> list:
    """Training rows (as :func:`_proposals` makes them) from the pipeline's framed later looks.

    The looks shrink a photo in which no face was found and frame it in gray
    (:data:`maskhog.pipeline.LOOKS`), and the verifier then judges what the templates (and
    dlib's pose templates) find there. Scene proposals never look like that, so the looks'
    verdicts were left to chance. Here ``n`` face photos of the detector's training groups
    (tight crops: the face fills the photo) and ``n`` face-free squares of the training scene
    photos are framed at each look: a detection overlapping the face photo's own rectangle at
    ``face_iou`` is a face; every detection in a face-free square is background; the others
    are left out (a loosely cropped photo's face need not fill it).
    """
    from .detect import box_iou
    from .detector_training import training_face_photos
    from .io import ImageError, read_image
    from .pipeline import LOOKS, framed, look_frame

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
        for look in LOOKS:   # each framed look as the pipeline makes it
            f, b = look_frame(longer, *look)
            seen = framed(image, f, b)
            found = proposer.detect(seen, verify=False)
            if not found:
                continue
            if is_face:   # 0.3: neither a face nor background (left out)
                rect = (b, b, seen.shape[1] - b, seen.shape[0] - b)
                iou = np.array([box_iou(face.box, rect) for face in found])
                iou = np.where(iou >= face_iou, iou, 0.3)
            else:
                iou = np.zeros(len(found))
            rows.append({"photo": -1 - k, "X": crop_faces(seen, [face.box for face in found], crop), "iou": iou,
                         "bare": np.full(len(found), bare)})
    return rows


def _soft_oval(h: int, w: int) -> np.ndarray:
    """An (h, w, 1) float mask: 1 inside the oval the rectangle holds, fading to 0 at its edge
    (a pasted photo shows its face, and no straight seam a network could learn as "face")."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx + 0.5 - w / 2) / (w / 2), (yy + 0.5 - h / 2) / (h / 2))
    return np.clip((1.08 - r) / 0.2, 0.0, 1.0)[:, :, None]


def _inside(box, rect) -> float:
    """The share of ``box``'s area that lies inside ``rect``."""
    from .detect import _overlap

    inter, area, _ = _overlap(box, rect)
    return inter / max(1, area)


def _pasted_rows(faces, scene_photos, proposer, crop, n: int, seed: int, face_iou: float,
                 candidate_threshold: float, sides=(24.0, 96.0)) -> list:
    """Training rows (as :func:`_proposals` makes them) from face photos pasted into scenes.

    The scene photos hold few unmasked faces, and the verifier sees most faces at 24-96 px.
    Here ``n`` face photos of the detector's training groups are each shrunk to a side drawn
    log-uniformly from ``sides``, blended in at a random place of a training scene photo
    (away from its boxed faces, through :func:`_soft_oval`), and the templates' proposals
    that overlap the pasted rectangle are kept: a face at IoU >= ``face_iou`` with it,
    background below 0.25 with less than 0.3 of their area inside it (they see the blend's
    edge), the rest left out (a loosely cropped photo's face need not fill it).
    """
    import cv2

    from .detect import box_iou
    from .detector_training import training_face_photos
    from .io import ImageError, read_image

    rng = np.random.default_rng([seed, 7])
    people = training_face_photos(faces, seed)
    chosen = [people[i] for i in rng.choice(len(people), min(n, len(people)), replace=False)]
    scenes = list(scene_photos)
    rows = []
    for k, (path, label) in enumerate(chosen):
        scene_path = scenes[rng.integers(len(scenes))]
        try:
            face, scene = read_image(path), read_image(scene_path).copy()
        except ImageError:
            continue
        side = float(np.exp(rng.uniform(*np.log(sides))))
        f = side / np.sqrt(face.shape[0] * face.shape[1])
        pw, ph = max(8, int(round(face.shape[1] * f))), max(8, int(round(face.shape[0] * f)))
        H, W = scene.shape[:2]
        if pw >= W or ph >= H:
            continue
        for _ in range(10):   # a place that covers no boxed face
            x, y = int(rng.integers(0, W - pw + 1)), int(rng.integers(0, H - ph + 1))
            rect = (x, y, x + pw, y + ph)
            if all(box_iou(rect, t[1:]) == 0 for t in scene_photos[scene_path]):
                break
        else:
            continue
        small = cv2.resize(face, (pw, ph), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        alpha = _soft_oval(ph, pw)
        patch = scene[y:y + ph, x:x + pw].astype(np.float32)
        scene[y:y + ph, x:x + pw] = np.round(alpha * small + (1 - alpha) * patch).astype(np.uint8)
        found = [p for p in proposer.propose(scene, candidate_threshold) if box_iou(p.box, rect) > 0]
        if not found:
            continue
        iou = np.array([box_iou(p.box, rect) for p in found])
        boxed = np.array([max([box_iou(p.box, t[1:]) for t in scene_photos[scene_path]], default=0.0)
                          for p in found])
        # Mostly inside the photo: maybe its face, when the photo is not a tight one.
        inside = np.array([_inside(p.box, rect) for p in found])
        unclear = ((iou >= 0.25) | (boxed >= 0.25) | (inside >= 0.3)) & (iou < face_iou)
        iou = np.where(unclear, 0.3, iou)   # 0.3: neither a face nor background (left out)
        rows.append({"photo": -100000 - k, "scale": 1.0, "faces": found, "iou": iou,
                     "X": crop_faces(scene, [p.box for p in found], crop),
                     "bare": np.full(len(found), label == "without_mask"), "pasted": rect, "scene": scene_path})
    return rows


def _verifier_rows(scenes, proposer, settings, seed: int, describe, log_fn=print) -> tuple[list, list, list, list]:
    """The proposals the verifier learns from, is chosen on and is judged on, as
    :func:`maskhog.detector_training._proposals` rows (``describe(image, faces)`` fills each
    row's ``X``): ``(learn, held, test, learnt)``, where ``held`` is the fit photos' held-out
    fifth and ``learnt`` the scene photos (path -> boxes) the ``learn`` rows come from."""
    boxed, (train, val, test) = _split_scenes(scenes, seed)
    photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
    scales, low = tuple(settings["scales"]), settings["candidate_threshold"]
    log_fn(f"CNN verifier: proposals in {len(train) + len(val)} training and {len(test)} test photos, "
           f"at scales {scales}")
    is_held = lambda k: k % 5 == settings["held_out"]   # noqa: E731
    wide = settings.get("learn_network")
    if wide and proposer.proposals is not None:
        # It learns from more than the detector proposes at run time (_WideProposer); its
        # threshold and score rule are chosen on what the detector proposes.
        fit_rows = _proposals(train + val, photos, proposer, low, None, None, scales, describe=describe, keep=is_held)
        fit_rows += _proposals(train + val, photos, _WideProposer(proposer, *wide), low, None, None, scales,
                               describe=describe, keep=lambda k: not is_held(k))
    else:
        fit_rows = _proposals(train + val, photos, proposer, low, None, None, scales, describe=describe)
    test_rows = _proposals(test, photos, proposer, low, None, None, scales, describe=describe)
    held = [r for r in fit_rows if is_held(r["photo"])]
    learn = [r for r in fit_rows if not is_held(r["photo"])]
    fit = train + val
    learnt = {fit[k]: photos[fit[k]] for k in {r["photo"] for r in learn}}
    return learn, held, test_rows, learnt


def _fit_and_judge(learn, held, test_rows, settings, *, seed: int, threads: int, fallback: float,
                   device: str = "cpu", log_fn=print) -> tuple:
    """Train the verifier's network on the ``learn`` rows, keep the epoch and threshold that
    find most ``held`` faces at the precision asked for, choose the score rule there, and
    judge both on ``test_rows`` (``device`` may name a GPU for studies; the shipped network is
    trained on the CPU). Returns the network and the record's figures."""
    crops, y, weight = _labelled(learn, settings["face_iou"])
    keep = settings.get("background_keep", 1.0)
    if keep < 1.0:
        crops, y, weight = _fewer_backgrounds(crops, y, weight, keep, seed)
    log_fn(f"CNN verifier: {len(y)} training crops ({int(y.sum())} faces), "
           f"{len({r['photo'] for r in held})} held-out photos")

    def select(net):
        found = _best_threshold(held, _scores(net, held), settings)
        if found is None:
            return -1.0, {"held_out_mean_recall": None}
        return found[0], {"held_out_mean_recall": round(found[0], 4), "threshold": found[1]}

    unboxed = {}

    def reweigh(net, epoch):
        """Once, after epoch ``unboxed_after``: background crops the network already takes for a
        face (log-odds >= ``unboxed_odds``) are left out; many are faces nobody boxed."""
        background = np.flatnonzero(y == 0)
        if epoch != settings.get("unboxed_after") or not len(background):
            return None
        # In slices: a copy of all the background crops at once would be some 350 MB more.
        odds = np.concatenate([_face_logit(net, crops[background[i:i + 8192]])
                               for i in range(0, len(background), 8192)])
        dropped = background[odds >= settings["unboxed_odds"]]
        unboxed.update(epoch=epoch, left_out=int(len(dropped)), of=int(len(background)))
        log_fn(f"CNN verifier: after epoch {epoch}, {len(dropped)} of {len(background)} background crops "
               f"left out (face log-odds >= {settings['unboxed_odds']})")
        w = weight.copy()
        w[dropped] = 0.0
        w[background] *= weight[background].sum() / max(w[background].sum(), 1e-12)
        return w

    labels = [FACE_CLASSES[k] for k in y]
    net, fitted = fit_network(crops, labels, crops[:0], [], FACE_CLASSES, epochs=settings["epochs"],
                              batch=settings["batch"], lr=settings["lr"], seed=seed, threads=threads,
                              widths=tuple(settings["widths"]), sample_weight=weight, select=select,
                              select_from=int(settings.get("select_from", 1)),
                              channels_last=bool(settings.get("channels_last", False)),
                              reweigh=reweigh if settings.get("unboxed_after") else None,
                              device=device, log_fn=lambda m: log_fn(f"CNN verifier: {m}"))
    held_scores = _scores(net, held)
    found = _best_threshold(held, held_scores, settings)
    if found is None:
        raise RuntimeError(f"no CNN verifier threshold reaches precision {settings['min_precision']} "
                           "on the held-out training photos")
    _, logit_threshold, held_figures = found
    # The crop alone, as the later looks judge: on the face probability OpenCV's softmax gives.
    threshold = float(1 / (1 + np.exp(-logit_threshold)))
    # The detector's rule: mirror image and template score too, chosen on the same photos.
    rule, rule_figures = _score_rule(net, held, held_scores, settings)
    test_scores = _scores(net, test_rows)

    scales = tuple(settings["scales"])
    figures = {"threshold": round(threshold, 6), "logit_threshold": logit_threshold, "score": rule,
               "best_epoch": fitted["best_epoch"], "held_out_figures": rule_figures,
               "held_out_figures_crop_alone": held_figures,
               "test_crop_alone": _test_figures(test_rows, test_scores, logit_threshold, fallback,
                                                settings, (1.0,), step=1.0)["test"],
               **_test_figures(test_rows, _plus_template(_rule_odds(net, test_rows, test_scores, rule["mirror"]),
                                                         test_rows, rule["template_weight"]),
                               rule["threshold"], fallback, settings, scales, step=1.0, name="score_threshold"),
               **({"unboxed": unboxed} if unboxed else {}), "epochs": fitted["epochs"]}
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
    if (settings.get("closeups") or settings.get("pasted")) and faces is None:
        raise ValueError("the CNN verifier also learns from face photos (close-ups, pasted): give the face folders")
    proposer = MaskHog(folder=templates, verifier=False)
    learn, held, test_rows, learnt = _verifier_rows(
        scenes, proposer, settings, seed, lambda image, found: crop_faces(image, [f.box for f in found], crop),
        log_fn)
    photos = {"fit": len({r["photo"] for r in learn + held}), "held_out": len({r["photo"] for r in held}),
              "test": len({r["photo"] for r in test_rows})}
    if settings.get("closeups"):
        looks = _closeup_rows(faces, learnt, proposer.with_pose(), crop, settings["closeups"], seed,
                              settings["face_iou"])
        log_fn(f"CNN verifier: {sum(len(r['X']) for r in looks)} detections in framed looks at "
               f"{settings['closeups']} face photos and as many face-free squares")
        learn += looks
    if settings.get("pasted"):
        pasted = _pasted_rows(faces, learnt, proposer, crop, settings["pasted"], seed, settings["face_iou"],
                              settings["candidate_threshold"])
        n_faces = sum(int((r["iou"] >= settings["face_iou"]).sum()) for r in pasted)
        log_fn(f"CNN verifier: {sum(len(r['X']) for r in pasted)} proposals at {settings['pasted']} face photos "
               f"pasted into training scenes ({n_faces} faces)")
        learn += pasted
    net, figures = _fit_and_judge(learn, held, test_rows, settings, seed=seed, threads=threads,
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
