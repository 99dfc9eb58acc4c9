"""``maskhog.predict``: one call from an image or a file to the faces in it, as plain records.

The detector and classifier are those of ``maskhog predict`` with its default
options, built once per process on the first call (the models load in about
0.6 s on one core; a 512x512 photo then takes about 0.02 s). Records are the
``faces`` of that command's JSON records, so a script and the command line
agree to the last digit.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

__all__ = ["predict"]

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _default_detector():
    """The ``maskhog predict`` pipeline with default options (one per process)."""
    from .classify import make_classifier
    from .detect import make_detector
    from .pipeline import MaskDetector

    return MaskDetector(make_detector(), make_classifier())


def predict(image, *, rgb: bool = False) -> list[dict]:
    """The faces in ``image`` and whether each wears a mask.

    Parameters
    ----------
    image : str, os.PathLike or ndarray
        An image file (read with :func:`maskhog.read_image`), or an image already
        in memory: ``(H, W, 3)`` uint8 BGR as OpenCV gives it (RGB with
        ``rgb=True``), or ``(H, W)`` gray.
    rgb : bool, default False
        The array's channels are in RGB order (Pillow, scikit-image, matplotlib).

    Returns
    -------
    list of dict
        One per face, as ``maskhog predict`` writes them: ``box`` ``[x1, y1, x2, y2]``
        in pixels, ``label`` (``with_mask``, ``without_mask`` or ``incorrect_mask``),
        ``score`` (the label's probability), ``probabilities`` of every class and
        ``stage`` (which classifier decided: ``svm`` or ``cnn``).

    Raises
    ------
    maskhog.io.ImageError
        A file that is missing, not an image, corrupt or too large.

    Examples
    --------
    >>> import maskhog
    >>> from skimage import data
    >>> [f["label"] for f in maskhog.predict(data.astronaut(), rgb=True)]
    ['without_mask']
    """
    if isinstance(image, (str, os.PathLike)):
        from .io.images import read_image

        image, rgb = read_image(image), False
    elif not isinstance(image, np.ndarray):
        raise TypeError(f"predict takes an image file's path or an ndarray, not {type(image).__name__}")
    with _lock:   # two threads' first calls build one detector, not two
        finder = _default_detector()
    return [face.to_dict() for face in finder.detect(image, rgb=rgb)]
