"""One box convention for every proposer: the whole face, brow to chin, ear to ear as seen.

Each proposer frames a face its own way: fHOG templates a little inside the
face, YuNet from the eyebrows to the chin, the proposal network looser. A
face found with a box half its size is lost for every metric and every crop,
so each proposer's boxes are moved and scaled onto the convention by a
:class:`BoxRule` (a centre shift and a scale per axis, in units of the box's
own side), fitted by least squares on the training scenes' matched boxes
(``train/box_convention.py``). The rules travel in ``box_convention.json``
beside the models, one per proposer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..modelfiles import ModelError

__all__ = ["BoxRule", "CONVENTION_FILE", "IDENTITY", "fit_rule", "load_rules", "save_rules"]

CONVENTION_FILE = "box_convention.json"


@dataclass(frozen=True)
class BoxRule:
    """Move a box's centre by ``(dx, dy)`` of its width and height, then scale its width by
    ``sx`` and its height by ``sy``."""

    dx: float = 0.0
    dy: float = 0.0
    sx: float = 1.0
    sy: float = 1.0

    def apply(self, box) -> tuple[int, int, int, int]:
        """``box`` ``(x1, y1, x2, y2)`` in the convention, rounded to whole pixels."""
        x1, y1, x2, y2 = (float(v) for v in box)
        w, h = x2 - x1, y2 - y1
        cx, cy = (x1 + x2) / 2 + self.dx * w, (y1 + y2) / 2 + self.dy * h
        w, h = w * self.sx, h * self.sy
        return (int(round(cx - w / 2)), int(round(cy - h / 2)), int(round(cx + w / 2)), int(round(cy + h / 2)))


IDENTITY = BoxRule()


def fit_rule(found, truth) -> BoxRule:
    """The rule that maps the boxes ``found`` (n, 4) closest to the annotated boxes ``truth``
    (n, 4) of the same faces: least squares of each centre offset over the box's side, and of
    each annotated side over the found side through the origin (so large faces weigh as much
    as their pixels do)."""
    found, truth = np.asarray(found, float).reshape(-1, 4), np.asarray(truth, float).reshape(-1, 4)
    if len(found) < 2:
        raise ValueError("a box rule needs at least two matched faces")
    w, h = found[:, 2] - found[:, 0], found[:, 3] - found[:, 1]
    tw, th = truth[:, 2] - truth[:, 0], truth[:, 3] - truth[:, 1]
    dx = ((truth[:, 0] + truth[:, 2]) - (found[:, 0] + found[:, 2])) / 2
    dy = ((truth[:, 1] + truth[:, 3]) - (found[:, 1] + found[:, 3])) / 2
    # Least squares of t = s * f through the origin: s = sum(f t) / sum(f f).
    return BoxRule(dx=float(dx @ w / (w @ w)), dy=float(dy @ h / (h @ h)),
                   sx=float(tw @ w / (w @ w)), sy=float(th @ h / (h @ h)))


def load_rules(folder) -> dict[str, BoxRule]:
    """The rules in a detector folder's :data:`CONVENTION_FILE`, by proposer; none where it has none."""
    path = Path(folder) / CONVENTION_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        rules = {name: BoxRule(**{k: float(v) for k, v in rule.items() if k in ("dx", "dy", "sx", "sy")})
                 for name, rule in data["rules"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{path}: not a box convention file ({exc})") from None
    for name, r in rules.items():
        if not (0.25 <= r.sx <= 4 and 0.25 <= r.sy <= 4 and abs(r.dx) <= 1 and abs(r.dy) <= 1):
            raise ModelError(f"{path}: the rule for {name} ({r}) would not frame a face")
    return rules


def save_rules(folder, rules: dict[str, BoxRule], record: dict | None = None) -> Path:
    """Write ``rules`` (and what they were fitted on, ``record``) to ``folder``'s :data:`CONVENTION_FILE`."""
    path = Path(folder) / CONVENTION_FILE
    path.write_text(json.dumps({"convention": "the whole face: brow to chin, ear to ear as seen",
                                "rules": {k: asdict(v) for k, v in rules.items()}, **(record or {})},
                               indent=1) + "\n")
    return path
