"""Training and measuring every model maskhog ships (needs the ``[train]`` extra).

==========================  =======================================================
:mod:`.data`                labelled faces as users keep them; group-aware splits
:mod:`.augment`             training-time variations of a face
:mod:`.faces`               every labelled face as a crop, plus varied copies
:mod:`.linear`              ``maskhog train``: the calibrated linear mask classifier
:mod:`.cnn`                 ``maskhog train-cnn``: the CNN stage and the cascade threshold
:mod:`.metrics`             figures for classifiers and detectors
:mod:`.evaluate`            ``maskhog evaluate``
:mod:`.report`              ``metrics.json`` and plots of an evaluation
:mod:`.scenes`              the detector's photo split
:mod:`.templates`           the fHOG templates
:mod:`.proposal_net`        the proposal network
:mod:`.verifier`            what face verifiers learn from; the linear verifier
:mod:`.cnn_verifier`        the CNN face verifier
:mod:`.detector`            ``maskhog train-detector``: all of the detector
:mod:`.estimators`          ``HogLbp``, a scikit-learn transformer
==========================  =======================================================

Running models needs none of this: ``pip install maskhog`` predicts without
scikit-learn or matplotlib. :func:`require` says which extra to install.
"""

import importlib.util

__all__ = ["EXTRAS", "require"]

#: What each training extra brings: import name -> (package, extra).
EXTRAS = {"sklearn": ("scikit-learn", "train"), "matplotlib": ("matplotlib", "train"), "torch": ("PyTorch", "cnn")}


def require(*modules: str) -> None:
    """Raise ``RuntimeError`` naming the extra to install if any of ``modules`` is missing."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            package, extra = EXTRAS[module]
            raise RuntimeError(f"this needs {package}, which maskhog's [{extra}] extra installs: "
                               f"pip install 'maskhog[{extra}]'")
