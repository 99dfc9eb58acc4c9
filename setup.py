"""Builds maskhog's compiled feature kernels; everything else is in pyproject.toml.

``maskhog/_features.pyx`` is compiled twice: once for any CPU of the platform
(``maskhog._features``) and, on x86-64, once more for CPUs with AVX2 and FMA
(``maskhog._features_avx2``, the same source through a one-line include).
``maskhog.features`` picks the second at run time when the CPU has it, as
NumPy does: wheels stay portable and new CPUs get twice the speed.
Set ``MASKHOG_NO_AVX2=1`` to build the baseline module only.
"""

import os
import platform
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

gcc_like = sys.platform != "win32"
# No global -ffast-math: it lets the compiler drop NaN checks and reorder sums.
# These flags only allow vectorised sqrt (errno is never read) and speculated
# float compares, and keep a*b+c unfused, so results stay bit-exact where we
# promise it (LBP codes equal scikit-image's).
flags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"] if gcc_like else []


def extension(name, source, extra=()):
    return Extension(
        name,
        [source],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=flags + list(extra),
    )


extensions = [extension("maskhog._features", "maskhog/_features.pyx")]
if (gcc_like and platform.machine().lower() in ("x86_64", "amd64")
        and os.environ.get("MASKHOG_NO_AVX2") != "1"):
    extensions.append(extension("maskhog._features_avx2", "maskhog/_features_avx2.pyx",
                                ["-mavx2", "-mfma"]))

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": 3}))
