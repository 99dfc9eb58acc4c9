"""maskhog.batch: worker processes, results in input order, images back only where needed."""

import cv2
import numpy as np

from maskhog.batch import run_batch
from maskhog.io import read_image
from maskhog.io.demo import demo_images


def test_workers_send_back_the_images_they_read_and_not_the_arrays_they_were_sent(tmp_path):
    (_, bare), (_, masked) = demo_images()
    cv2.imwrite(str(tmp_path / "bare.png"), bare)
    frames = [masked[k:] for k in range(5)]   # as a video's frames travel: arrays
    items = [("bare.png", str(tmp_path / "bare.png"))] + [(f"clip#frame={k}", f) for k, f in enumerate(frames)]
    done = list(run_batch(items, np.shape, jobs=2, images=True, chunk=2))
    assert [d.name for d in done] == [name for name, _ in items]
    assert [d.result for d in done] == [bare.shape] + [f.shape for f in frames]
    np.testing.assert_array_equal(done[0].image, read_image(tmp_path / "bare.png"))
    # The frames are this process's own arrays again, not copies pickled back from a worker.
    assert all(d.image is f for d, f in zip(done[1:], frames))
    assert all(d.image is None for d in run_batch(items[:2], np.shape, jobs=2))
