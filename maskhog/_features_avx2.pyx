# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The kernels of ``_features.pyx``, compiled for CPUs with AVX2 and FMA.

Same source, wider SIMD: ``setup.py`` builds this module with ``-mavx2 -mfma``
and ``maskhog.features`` imports it only after checking that the CPU has
both, so older CPUs run the baseline build of the very same code.
"""

include "_features.pyx"
