# Type stubs of the AVX2 build of the kernels: the same functions as the baseline build.
from maskhog._features import *  # noqa: F401,F403
