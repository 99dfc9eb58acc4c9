"""YuNet in a trained detector folder: its network, the box convention and its score rule.

``maskhog train-detector`` trains our templates, proposal network and CNN face
verifier; this puts the pretrained YuNet beside them, as the shipped detector
has it (docs/design.md#detector-yunet):

1. the network, with its licence and notice: the shipped one, or that one fine-tuned on
   the training photos (:mod:`.yunet_finetune`) where it then finds more of the validation
   photos' faces;
2. ``box_convention.json``: each proposer's boxes moved onto the whole-face
   convention, a centre shift and a scale per axis fitted by least squares on
   the training photos' matched boxes (:func:`fit_convention`);
3. ``face_yunet.json``: which of YuNet's boxes stay. The verifier's face
   log-odds plus k times YuNet's log-odds, from a threshold; k and the
   threshold are those that find the most faces at precision 0.90 on the
   photos the verifier held out, which it never learned (:func:`choose`).

``train/detector_yunet.py`` and ``train/detector_verifier_yunet.py`` made the
shipped files with these functions, on the project's scenes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from .. import tuning
from ..boxes import Face, merge_duplicates
from ..crops import crop_faces
from ..detect.convention import IDENTITY, fit_rule, save_rules
from ..detect.fhog import YUNET_RULE_FILE, models_folder
from ..detect.yunet import YUNET_FILE, YuNet, log_odds
from ..io import ImageError, read_image
from .metrics import claims, match_faces
from .scenes import split_scenes

__all__ = ["YUNET_RULE", "add_yunet", "choose", "figures", "fit_convention", "kept_faces", "mean_recall",
           "yunet_rows"]

#: How the rule is chosen:
#: * ``from_score``: YuNet's score floor at run time; None: the shipped rule's, chosen for the
#:   shipped network within 1.5x dlib's time on 640x480 frames (docs/design.md#detector-yunet-finetune);
#: * ``weights``: the k tried; ``min_precision``, ``min_side``: the precision to keep on the
#:   held-out photos, for faces of ``min_side`` px and more;
#: * ``held_out``: the CNN verifier's held-out fifth (``photo % 5 == held_out`` of the split's
#:   training and validation photos: :data:`maskhog.training.cnn_verifier.CNN_VERIFIER`);
#: * ``rule_from``: YuNet's boxes from this score are matched to faces to fit its convention;
#: * ``fine_tune``: fine-tune the shipped network on the training photos less the held-out fifth.
YUNET_RULE = {"from_score": None, "weights": (0.0, 0.5, 1.0, 2.0, 4.0), "min_precision": 0.90,
              "min_side": 24, "held_out": 0, "rule_from": 0.5, "fine_tune": True}
ODDS_GRID = np.round(np.arange(-12, 12, 0.25), 2)     # thresholds on the summed log-odds
SCORE_GRID = np.round(np.arange(0.05, 1.0, 0.025), 3)  # thresholds on YuNet's own score
BANDS = ((24, 48), (48, 96), (96, None))
#: YuNet's files in a detector folder: the network and what its licence asks to travel with it.
YUNET_FILES = (YUNET_FILE, "face_yunet_n.LICENSE", "face_yunet_n.NOTICE")


def proposals(det, yunet, image, floor: float) -> list[tuple[str, tuple, float]]:
    """Every proposer's boxes of one photo, each as its proposer framed it:
    ``[(source, box, proposer score)]``, YuNet's from its score ``floor``."""
    out = [("templates", f.box, f.score)
           for f in det.template_faces(image, det.verifier.candidate_threshold, network=True)]
    if det.proposals is not None:
        out += [("network", f.box, tuning.NETWORK_SCORE) for f in det.network_faces(image, [])]
    boxes, scores = yunet.raw(image, floor)
    out += [("yunet", tuple(int(round(v)) for v in b), float(s)) for b, s in zip(boxes, scores)]
    return out


def verifier_odds(verifier, image, boxes) -> np.ndarray:
    """The CNN verifier's face log-odds of each box's crop, averaged with its mirror image's."""
    if not len(boxes):
        return np.zeros(0)
    crops = crop_faces(image, boxes, verifier.crop)
    return (verifier._odds(crops) + verifier._odds(np.ascontiguousarray(crops[:, :, ::-1]))) / 2


def _photos(photos, paths, step: str, log_fn):
    """Each readable photo of ``paths`` with its annotated faces ``[(label, x1, y1, x2, y2)]``;
    an unreadable one is named and skipped, as training skips them everywhere."""
    for path in paths:
        try:
            image = read_image(path)
        except ImageError as exc:
            log_fn(f"{step}: {exc}; skipped")
            continue
        yield image, [(label, *box) for label, box in photos[path]]


def _matched(kept, truth, min_side: int) -> list[tuple]:
    """``(found box, annotated box)`` of each face of ``truth`` of ``min_side`` px or more that
    one of ``kept`` frames (:func:`~maskhog.training.metrics.claims`: best score first, at IoU
    0.3 or the convention-tolerant match). Smaller faces are left out of the match, so that no
    box is fitted to a face too small to count."""
    big = [t for t in truth if min(t[3] - t[1], t[4] - t[2]) >= min_side]
    return [(f.box, tuple(t[1:])) for f, t in zip(claims(kept, big, 0.3, tolerant=True), big) if f is not None]


def fit_convention(det, yunet, photos, paths, settings=YUNET_RULE, log_fn=print):
    """Each proposer's :class:`~maskhog.detect.convention.BoxRule`, from its boxes on ``paths``
    matched to their annotated faces: the templates' from their own threshold, the proposal
    network's that the verifier keeps, YuNet's from ``rule_from``. A proposer with fewer than
    two matched faces keeps its own boxes. Returns ``(rules, matched faces per proposer)``."""
    v = det.verifier
    pairs = {"templates": [], "network": [], "yunet": []}
    for image, truth in _photos(photos, paths, "box convention", log_fn):
        rows = proposals(det, yunet, image, settings["rule_from"])
        odds = verifier_odds(v, image, [b for _, b, _ in rows])
        kept = {s: [] for s in pairs}
        for (src, box, s), o in zip(rows, odds):
            if ((src == "yunet" and s >= settings["rule_from"])
                    or (src == "templates" and s >= tuning.TEMPLATE_THRESHOLD)
                    or (src == "network" and o + v.template_weight * s >= v.score_threshold)):
                kept[src].append(Face(box, s if src != "network" else float(o)))
        for src in pairs:
            pairs[src] += _matched(kept[src], truth, settings["min_side"])
    rules = {}
    for src, matched in pairs.items():
        if len(matched) >= 2:
            rules[src] = fit_rule([m[0] for m in matched], [m[1] for m in matched])
        elif src != "network" or det.proposals is not None:
            log_fn(f"box convention: {len(matched)} {src} boxes matched a face; its own boxes are kept")
            rules[src] = IDENTITY
    return rules, {s: len(m) for s, m in pairs.items()}


def yunet_rows(yunet, verifier, photos, paths, floor: float, log_fn=print) -> tuple[list, list]:
    """YuNet's boxes of each photo from ``floor``, as it frames them, each scored by YuNet's
    log-odds, with the photo's annotated faces: ``([{"faces", "truth"}], [verifier log-odds])``."""
    rows, odds = [], []
    for image, truth in _photos(photos, paths, "YuNet rule", log_fn):
        faces = yunet.scored_boxes(image, floor)
        rows.append({"faces": faces, "truth": truth})
        odds.append(verifier_odds(verifier, image, [f.box for f in faces]))
    return rows, odds


def kept_faces(faces, scores, t: float, rule) -> list[Face]:
    """The faces whose summed log-odds ``scores`` reach ``t``, moved by ``rule`` onto the
    convention and their duplicates merged, as the detector keeps YuNet's boxes."""
    return merge_duplicates([Face(rule.apply(f.box), float(v)) for f, v in zip(faces, scores) if v >= t])


def figures(rows, odds, k: float, t: float, rule, min_side: int = 24, sizes: bool = False) -> dict:
    """Recall per class and precision when the boxes whose ``odds + k x`` YuNet log-odds are at
    least ``t`` are kept, moved by ``rule``, duplicates merged and matched at IoU 0.4, as the
    benchmarks do; ``sizes``: recall per face size band too."""
    n, hit, false = Counter(), Counter(), 0
    bands = {lo: [0, 0] for lo, _ in BANDS}
    for r, o in zip(rows, odds):
        scores = o + k * np.array([f.score for f in r["faces"]])
        kept = kept_faces(r["faces"], scores, t, rule)
        a, b, c = match_faces(kept, r["truth"], min_side)
        n, hit, false = n + a, hit + b, false + c
        if sizes:
            for label, *box in r["truth"]:
                side = min(box[2] - box[0], box[3] - box[1])
                for lo, hi in BANDS:
                    if side >= max(lo, min_side) and (hi is None or side < hi):
                        bands[lo][0] += 1
                        bands[lo][1] += sum(match_faces(kept, [(label, *box)], min_side)[1].values())
    found = sum(hit.values())
    out = {c: round(hit[c] / max(1, n[c]), 4) for c in ("with_mask", "without_mask", "incorrect_mask")}
    out["precision"] = round(found / max(1, found + false), 4)
    if sizes:
        out["sizes"] = {(f"{lo}-{hi}" if hi else f"{lo}+"): round(h / max(1, m), 4)
                        for (lo, hi), (m, h) in zip(BANDS, bands.values())}
    out["faces"] = dict(n)
    return out


def mean_recall(f: dict) -> float:
    """The mean of masked and unmasked recall of :func:`figures` ``f``, of the classes its photos
    hold: what a rule is chosen by."""
    held = [f[c] for c in ("with_mask", "without_mask") if f["faces"].get(c)]
    return float(np.mean(held)) if held else 0.0


def choose(rows, odds, rule, weights=YUNET_RULE["weights"], thresholds=ODDS_GRID, min_precision: float = 0.90,
           min_side: int = 24):
    """The ``(mean recall, k, threshold, figures)`` that finds the most faces of ``rows`` (the
    mean of the masked and unmasked recall, of those the photos hold) at precision
    ``min_precision`` or more, then the most precise; None where no pair reaches it. Of pairs
    that tie, the k that ties over the widest span of thresholds, at the middle one: the
    farthest from both edges of what was measured."""
    tied, key = [], None
    for k in weights:
        for t in thresholds:
            f = figures(rows, odds, k, float(t), rule, min_side)
            m = mean_recall(f)
            if f["precision"] < min_precision or (key is not None and (m, f["precision"]) < key):
                continue
            if key is None or (m, f["precision"]) > key:
                tied, key = [], (m, f["precision"])
            tied.append((m, float(k), float(t), f))
    if not tied:
        return None
    spans = Counter(k for _, k, _, _ in tied)
    widest = [c for c in tied if c[1] == max(spans, key=lambda k: (spans[k], -k))]
    return widest[len(widest) // 2]


def tuned_network(det, photos, learn, val, rule, floor: float, out_dir, settings=YUNET_RULE,
                  log_fn=print) -> dict:
    """Fine-tune the shipped YuNet on ``learn`` and keep the epoch that finds the most faces of
    ``val`` through the score rule (:func:`choose`, from YuNet's score ``floor``), where it finds
    more than the shipped network; written into ``out_dir`` with the licence and a notice that
    says what changed. Returns what was chosen, with each network's figures."""
    from .yunet_finetune import fine_tune

    shipped = models_folder() / YUNET_FILE
    with tempfile.TemporaryDirectory(prefix="maskhog-yunet-") as work:
        saved, trained = fine_tune(shipped, learn, photos, rule, work, log_fn=log_fn)
        found = {}
        for name, path in {"shipped": shipped, **{f"epoch {e}": p for e, p in saved.items()}}.items():
            rows, odds = yunet_rows(YuNet(path, threshold=floor, rule=IDENTITY), det.verifier, photos, val, floor,
                                    log_fn)
            best = choose(rows, odds, rule, settings["weights"], ODDS_GRID, settings["min_precision"],
                          settings["min_side"])
            found[name] = {"mean_recall": round(best[0], 4) if best else None,
                           "figures": best[3] if best else None}
            log_fn(f"YuNet fine-tuning: {name} finds {found[name]['mean_recall']} of the validation faces")
        # The shipped network keeps ties: a change must find more faces to replace it.
        chosen = max(found, key=lambda n: (found[n]["mean_recall"] or -1.0, n == "shipped"))
        if chosen != "shipped":
            shutil.copyfile(saved[int(chosen.split()[1])], Path(out_dir) / YUNET_FILE)
    notice = (models_folder() / YUNET_FILES[2]).read_text()
    if chosen != "shipped":
        notice += (f"Modified again by maskhog train-detector: its score and box heads fine-tuned on "
                   f"{len(learn)} annotated photos of the user's ({chosen}).\n")
    (Path(out_dir) / YUNET_FILES[2]).write_text(notice)
    return {"chosen": chosen, "photos": {"learn": len(learn), "validation": len(val)}, "validation": found,
            **{k: trained[k] for k in ("positive_cells", "negative_cells", "history", "seconds_training")}}


def add_yunet(scenes, out_dir, *, seed: int = 0, settings=YUNET_RULE, log_fn=print) -> dict | None:
    """Put YuNet into the detector folder ``out_dir`` (templates and a CNN face verifier trained
    there): its network with licence and notice, ``box_convention.json`` and ``face_yunet.json``,
    fitted on the Pascal VOC ``scenes`` with the split of ``seed`` that trained the verifier.

    Returns the record written into ``face_yunet.json``, or None (and nothing written) where no
    rule reaches ``min_precision`` on the held-out photos: the folder's detector then runs
    without YuNet, as before this step.
    """
    from ..detect.fhog import MaskHog
    from ..detect.verify import CnnFaceVerifier

    out_dir = Path(out_dir)
    det = MaskHog(templates=out_dir, yunet=False)
    if not isinstance(det.verifier, CnnFaceVerifier):
        raise ValueError(f"{out_dir}: YuNet's score rule needs the CNN face verifier (train it with --cnn-verifier)")
    boxed, (train, val, _) = split_scenes(scenes, seed)
    photos = {p: list(faces) for p, faces in boxed.items()}
    held = [p for k, p in enumerate(train + val) if k % 5 == settings["held_out"]]
    floor = settings["from_score"]
    if floor is None:   # the floor belongs to the network: the shipped one's
        floor = float(json.loads((models_folder() / YUNET_RULE_FILE).read_text())["from_score"])
    settings = {**settings, "from_score": floor}
    yunet = YuNet(models_folder() / YUNET_FILE, threshold=floor, rule=IDENTITY)
    rules, matched = fit_convention(det, yunet, photos, train, settings, log_fn)
    tuned = None
    if settings["fine_tune"] and out_dir.resolve() != models_folder().resolve():   # never the shipped files
        learn = sorted(set(train) - set(held), key=train.index)
        tuned = tuned_network(det, photos, learn, val, rules["yunet"], floor, out_dir, settings, log_fn)
        if tuned["chosen"] != "shipped":
            yunet = YuNet(out_dir / YUNET_FILE, threshold=floor, rule=IDENTITY)
    rows, odds = yunet_rows(yunet, det.verifier, photos, held, settings["from_score"], log_fn)
    rule = rules["yunet"]
    best = choose(rows, odds, rule, settings["weights"], ODDS_GRID, settings["min_precision"], settings["min_side"])
    # Crops without colour (no verifier): YuNet's own score, as log-odds with k = 1 and no verifier.
    alone = choose(rows, [np.zeros_like(o) for o in odds], rule, (1.0,), log_odds(SCORE_GRID),
                   settings["min_precision"], settings["min_side"])
    if best is None or alone is None:
        log_fn(f"YuNet: no score rule keeps precision {settings['min_precision']} on the {len(rows)} held-out "
               "photos; the detector runs without YuNet")
        for name in YUNET_FILES if tuned else ():   # what fine-tuning wrote goes too
            (out_dir / name).unlink(missing_ok=True)
        return None
    _, k, t, held_figures = best
    for name in YUNET_FILES:
        written = tuned and (name == YUNET_FILES[2] or (name == YUNET_FILE and tuned["chosen"] != "shipped"))
        if not written and (out_dir / name).resolve() != (models_folder() / name).resolve():
            shutil.copyfile(models_folder() / name, out_dir / name)
    save_rules(out_dir, rules, {"fitted_on": f"{sum(matched.values())} matched boxes of the training scene photos "
                                "(maskhog train-detector)", "matched": matched})
    record = {"proposers": ["yunet"], "from_score": settings["from_score"],
              # Our proposers' boxes, where a later look proposes them, stay by the verifier's own rule.
              "threshold": det.verifier.score_threshold,
              "yunet_weight": k, "yunet_threshold": t,
              "alone_threshold": round(float(1 / (1 + np.exp(-alone[2]))), 4),
              "yunet_rule_chosen_on": f"the verifier's {len(rows)} held-out photos (maskhog train-detector, seed {seed})",
              "yunet_rule": {"verifier": det.verifier.path.name, "validation": held_figures},
              "network": ("the shipped YuNet" if not tuned or tuned["chosen"] == "shipped"
                          else f"the shipped YuNet fine-tuned on the training photos ({tuned['chosen']})"),
              **({"fine_tuning": tuned} if tuned else {})}
    (out_dir / YUNET_RULE_FILE).write_text(json.dumps(record, indent=1) + "\n")
    log_fn(f"YuNet: verifier log-odds + {k:g} x YuNet's log-odds >= {t:g}; held-out photos: "
           f"masked {held_figures['with_mask']:.3f}, unmasked {held_figures['without_mask']:.3f} "
           f"at precision {held_figures['precision']:.3f}")
    return record
