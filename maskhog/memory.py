"""How the C allocator treats image-sized buffers.

Each image decoded, resized, converted or copied is a buffer of hundreds of
kilobytes to megabytes, made and freed again for every image of a batch.
glibc's malloc serves buffers above its mmap threshold by mapping fresh pages,
and gives them back when freed: the next image then faults every page in
again, which costs more than some of the arithmetic on it. The threshold
grows by itself as big buffers are freed, unless anything sets it or the trim
threshold, which Dask does for its workers (``MALLOC_TRIM_THRESHOLD_=65536``,
left in the environment of a process that starts a ``LocalCluster``, so its
later children have it too).
"""

from __future__ import annotations

import ctypes

__all__ = ["keep_image_buffers"]

#: glibc's mallopt parameters.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Buffers up to 32 MB (glibc's largest mmap threshold) come from the heap, and up to
#: 64 MB of freed heap is kept for the next image (docs/design.md#batch-malloc).
MMAP_FROM, TRIM_AT = 32 << 20, 64 << 20


def keep_image_buffers() -> bool:
    """Have this process's malloc reuse freed image buffers instead of unmapping them.

    600 images in one process took 8.0-8.5 s this way against 10.3-10.8 s, and
    two ``--jobs`` workers started with Dask's trim setting 6.5 s against 11.4 s
    (docs/design.md#batch-malloc). Safe to call more than once.

    Returns
    -------
    bool
        False where the C library is not glibc (macOS, musl): nothing is changed.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_FROM)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_AT))
