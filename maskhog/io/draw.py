"""Boxes and labels drawn on images: for `predict --annotate` and the `live` window."""

from __future__ import annotations

import numpy as np

__all__ = ["COLOURS", "draw_faces"]

#: BGR colour of each label: green for a mask, red for none, orange for a badly worn one.
COLOURS = {"with_mask": (60, 180, 75), "without_mask": (40, 40, 230), "incorrect_mask": (0, 140, 255)}


def draw_faces(image: np.ndarray, faces, caption: str | None = None) -> np.ndarray:
    """A copy of a BGR ``image`` with each face's box, label and score drawn.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    faces : iterable of objects with ``box`` (x1, y1, x2, y2), ``label`` and ``score``
    caption : str, optional
        Text for the top-left corner (the live window shows frames per second).
    """
    import cv2

    out = image.copy()
    font = cv2.FONT_HERSHEY_SIMPLEX
    for f in faces:
        x1, y1, x2, y2 = (int(v) for v in f.box)
        colour = COLOURS.get(f.label, (255, 255, 255))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        text = f"{f.label} {f.score:.2f}"
        (w, h), _ = cv2.getTextSize(text, font, 0.45, 1)
        cv2.rectangle(out, (x1, max(0, y1 - h - 6)), (x1 + w + 4, y1), colour, -1)
        cv2.putText(out, text, (x1 + 2, max(h, y1 - 4)), font, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    if caption:
        (w, h), _ = cv2.getTextSize(caption, font, 0.5, 1)
        cv2.rectangle(out, (0, 0), (w + 8, h + 10), (0, 0, 0), -1)
        cv2.putText(out, caption, (4, h + 4), font, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out
