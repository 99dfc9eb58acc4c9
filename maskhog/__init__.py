"""maskhog: is each person in an image or video wearing a face mask?

CPU-first: HOG and LBP features from a compiled extractor, a linear SVM.
The few names most users need are here, imported on first use (PEP 562) so
that ``import maskhog`` and the command line start instantly:

>>> import maskhog
>>> faces = maskhog.predict("photo.jpg")            # doctest: +SKIP
>>> [(f["label"], f["score"]) for f in faces]       # doctest: +SKIP
[('with_mask', 0.95)]

``predict`` finds faces and decides as ``maskhog predict`` does and returns
its records' face dicts; :class:`MaskDetector` is the object behind it;
:func:`read_image` reads a file safely as BGR; :func:`hog` and
:func:`lbp_histograms` are the compiled feature extractors.
"""

__version__ = "0.1.0"

# Public name -> the module that defines it (imported when the name is first used).
_LAZY = {
    "MaskDetector": "maskhog.pipeline",
    "predict": "maskhog.api",
    "read_image": "maskhog.io.images",
    "hog": "maskhog.features",
    "lbp_histograms": "maskhog.features",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'maskhog' has no attribute {name!r}") from None
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value   # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
