"""maskhog.memory: image-sized buffers are reused, not mapped afresh for every image."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc is Linux's")

# A batch's pattern: an image-sized buffer made, written and freed, again and again. A buffer
# mapped afresh faults each of its 4 KB pages in when written: 256 pages for 1 MB.
CHURN = """
import resource, sys
import numpy as np
from maskhog.memory import keep_image_buffers
if sys.argv[1] == "keep":
    assert keep_image_buffers()
np.ones(1 << 20, np.uint8)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    np.ones(1 << 20, np.uint8)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(how: str) -> int:
    # Dask's setting for its workers, which fixes glibc's mmap threshold at its 128 KB start.
    env = {"MALLOC_TRIM_THRESHOLD_": "65536", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", CHURN, how], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_freed_image_buffers_are_reused_under_dasks_malloc_setting():
    assert page_faults("as is") > 200 * 200   # nearly every page of every buffer, faulted in anew
    assert page_faults("keep") < 1000         # the same pages, reused
