"""Snapshots: the frame an event happened on, saved as a JPEG, faces blurred.

Off unless asked for (``--snapshots DIR``): by default maskhog keeps no face
image anywhere. When on, every face box in the frame is pixelated before the
file is written, unless ``blur=False`` (``--no-blur``): a snapshot shows where
and when, not who, unless the operator decides otherwise.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .sinks import SinkError

__all__ = ["Snapshots", "blur_faces"]

# Blocks this coarse leave a face unrecognisable at any size.
_BLOCKS = 8


def blur_faces(frame: np.ndarray, boxes, margin: float = 0.2) -> np.ndarray:
    """A copy of ``frame`` with each box, grown by ``margin`` of its size, pixelated.

    Pixelating (shrink to a few blocks, grow back) rather than a Gaussian blur:
    a strong Gaussian blur of a face can be partly undone, blocks cannot.
    """
    import cv2

    out = frame.copy()
    height, width = frame.shape[:2]
    for x1, y1, x2, y2 in boxes:
        dx, dy = int((x2 - x1) * margin), int((y2 - y1) * margin)
        x1, y1 = max(0, int(x1) - dx), max(0, int(y1) - dy)
        x2, y2 = min(width, int(x2) + dx), min(height, int(y2) + dy)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        small = cv2.resize(out[y1:y2, x1:x2], (_BLOCKS, _BLOCKS), interpolation=cv2.INTER_AREA)
        out[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
    return out


class Snapshots:
    """Save one JPEG per event into ``folder``.

    Parameters
    ----------
    folder : str or Path
        Made if missing.
    blur : bool
        Pixelate every face box (the default).
    """

    def __init__(self, folder, *, blur: bool = True, quality: int = 85):
        self.folder, self.blur, self.quality = Path(folder), blur, quality
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"{folder}: cannot keep snapshots ({exc.strerror})") from None

    def save(self, event: dict, frame: np.ndarray, boxes) -> str:
        """Write the snapshot of ``event`` (``frame`` with ``boxes`` the faces in it); return its path."""
        import cv2

        image = blur_faces(frame, boxes) if self.blur else frame
        stamp = event["time"].replace("-", "").replace(":", "").replace(".", "")
        camera = re.sub(r"[^A-Za-z0-9_-]+", "_", str(event["camera"]))
        path = self.folder / f"{stamp}-{camera}-{event['track_id']}-{event['event']}-{event['event_id'][:8]}.jpg"
        partial = path.with_suffix(".part.jpg")
        # Written aside and renamed: a snapshot path in an event never names half a file.
        if not cv2.imwrite(str(partial), image, [cv2.IMWRITE_JPEG_QUALITY, self.quality]):
            raise SinkError(f"{partial}: cannot write a snapshot")
        os.replace(partial, path)
        return str(path)
