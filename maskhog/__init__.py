"""maskhog: is each person in an image or video wearing a face mask?

CPU-first: HOG and LBP features from a compiled extractor, a linear SVM.
Submodules are imported on first use so that ``import maskhog`` and the
command line start instantly.
"""

__version__ = "0.1.0"
