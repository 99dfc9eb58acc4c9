"""Finding faces: every detector behind one interface, and the search that uses them.

=============  ====================================================================
``maskhog``    the default: YuNet (:mod:`.yunet`) proposes, our CNN face verifier and
               YuNet's score judge (:mod:`.fhog`, :mod:`.verify`); our fHOG templates on
               gray images and in the later looks
``hog``        the classical path: fHOG templates + our proposal network, judged by
               the face verifier (:mod:`.fhog`, :mod:`.proposals`), no YuNet
``dlib``       dlib's stock frontal-face HOG detector (:mod:`.stock`), for comparison
``haar``       OpenCV's Haar cascade (:mod:`.stock`), for comparison
``dnn``        a face detector network of your own, run by OpenCV DNN (:mod:`.dnn`)
=============  ====================================================================

:func:`make_detector` builds one by name; :class:`FaceSearch` (:mod:`.looks`)
searches an image with it at the scale the smallest wanted face needs, and
looks again at still images in which nothing was found.
"""

from __future__ import annotations

import inspect

from ..boxes import Face
from ..errors import OptionError
from .base import Detector
from .dnn import DnnDetector
from .fhog import MaskHog, models_folder
from .looks import FaceSearch
from .stock import DlibFrontal, HaarFrontal
from .yunet import YuNet

__all__ = ["Face", "Detector", "DETECTORS", "DlibFrontal", "DnnDetector", "FaceSearch", "HaarFrontal",
           "MaskHog", "YuNet", "hog_detector", "make_detector", "models_folder"]


def hog_detector(upsample: int = 0, threshold: float | None = None, templates=None, verifier=True,
                 pose: bool = False, proposals: bool = True) -> MaskHog:
    """maskhog's classical detector (``--detector hog``): fHOG templates and the proposal
    network judged by the face verifier, without YuNet (:class:`MaskHog` for the options)."""
    from .. import tuning

    return MaskHog(upsample, tuning.TEMPLATE_THRESHOLD if threshold is None else threshold, templates,
                   verifier, pose, proposals, yunet=False)

#: The detectors by name.
DETECTORS = {"maskhog": MaskHog, "hog": hog_detector, "dlib": DlibFrontal, "haar": HaarFrontal, "dnn": DnnDetector}


def make_detector(name: str | None = None, **options) -> Detector:
    """A detector by name (one of :data:`DETECTORS`), built with ``options``.

    ``name`` ``None`` means ``dnn`` when a ``model`` file is given, else
    ``maskhog``. Options set to ``None`` count as not given; an option the
    detector does not take is refused unless it asks for nothing (``False``
    or ``0``), so that a command line can pass all of its options as they are.

    Raises
    ------
    ValueError
        An unknown name; :class:`maskhog.errors.OptionError` for options the
        detector does not take, or a missing ``model`` for ``dnn``.
    """
    options = {k: v for k, v in options.items() if v is not None}
    name = name or ("dnn" if "model" in options else "maskhog")
    try:
        make = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}") from None
    takes = inspect.signature(make).parameters
    for key, value in list(options.items()):
        if key in takes:
            continue
        if value is False or (type(value) is int and value == 0):
            del options[key]   # another detector's switch, off: nothing asked for
            continue
        owners = [n for n, d in DETECTORS.items() if key in inspect.signature(d).parameters]
        whose = f" (an option of: {', '.join(owners)})" if owners else ""
        raise OptionError(f"the {name} detector takes no option {key!r}{whose}")
    if name == "dnn" and "model" not in options:
        raise OptionError("the dnn detector needs a model file")
    return make(**options)
