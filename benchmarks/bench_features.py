"""Feature extraction speed: maskhog against scikit-image and OpenCV, in one run.

Per crop, one thread, on real photographs cut into 64x64 and 96x96 crops:
maskhog's HOG, maskhog's HOG + LBP, ``skimage.feature.hog`` and
``cv2.HOGDescriptor.compute`` with the same cell, block and bin settings,
then the throughput of ``hog_lbp_features`` on two threads against one, and
the colour cues (``color_features``) against the same figures computed with
OpenCV calls (``cvtColor`` to YCrCb, ``inRange``, area-averaging ``resize``).
Both compiled builds are measured (AVX2 where the CPU has it, and the
portable baseline) by running this script once per build.

    python benchmarks/bench_features.py            # both builds
    python benchmarks/bench_features.py --simd baseline

Figures are medians of repeated runs; the machine is shared, so compare the
ratios of one run rather than the absolute times of different runs.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # no idle BLAS threads spinning on our cores

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

TARGETS = {"hog_vs_cv2": 4.0, "hog_vs_skimage": 50.0, "hoglbp_vs_cv2": 2.0, "threads": 1.7,
           "color_vs_cv2": 2.0}


def crops_of(size, n, color=False):
    """n real crops: windows of scikit-image's bundled photographs, resized (gray, or BGR)."""
    import cv2
    import numpy as np
    from skimage import data

    if color:
        photos = [data.astronaut()[:, :, ::-1], data.coffee()[:, :, ::-1], data.chelsea()[:, :, ::-1]]
    else:
        photos = [cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY), data.camera(), data.coins(),
                  cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2GRAY)]
    rng = np.random.default_rng(0)
    out = []
    while len(out) < n:
        img = photos[len(out) % len(photos)]
        side = int(rng.integers(size, min(img.shape[:2])))
        y, x = rng.integers(0, img.shape[0] - side + 1), rng.integers(0, img.shape[1] - side + 1)
        out.append(cv2.resize(img[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def cv2_color_cues(crops, cell=8, grid=4):
    """color_features' figures from OpenCV calls on the whole batch (the fastest we found)."""
    import cv2
    import numpy as np

    n, h, w, _ = crops.shape
    ycc = cv2.cvtColor(crops.reshape(n * h, w, 3), cv2.COLOR_BGR2YCrCb)
    skin = cv2.inRange(ycc, (0, 133, 77), (255, 173, 127)).astype(np.float32)
    share = cv2.resize(skin, (w // cell, n * h // cell), interpolation=cv2.INTER_AREA) / 255
    chroma = cv2.resize(ycc[:, :, 1:].astype(np.float32), (grid, n * grid),
                        interpolation=cv2.INTER_AREA) / 255
    return np.hstack([share.reshape(n, -1), chroma.reshape(n, grid * grid, 2).transpose(0, 2, 1).reshape(n, -1)])


def per_crop_us(func, n_items, repeats=7):
    func()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / n_items * 1e6


def run_one():
    import cv2
    import numpy as np
    import skimage.feature as skf

    from maskhog import features

    cv2.setNumThreads(1)
    print(f"\n## maskhog kernels: {features.SIMD} build")
    print(f"{'crop':>6} | {'maskhog HOG':>11} | {'HOG+LBP':>8} | {'cv2 HOG':>8} | "
          f"{'skimage HOG':>11} | {'vs cv2':>6} | {'vs skimage':>10} | {'HOG+LBP vs cv2':>14}")
    ratios = {}
    for size in (64, 96):
        batch = crops_of(size, 1000)
        few = batch[:60]
        cv_hog = cv2.HOGDescriptor((size, size), (16, 16), (8, 8), (8, 8), 9)
        ours = per_crop_us(lambda: features.hog(batch), len(batch))
        both = per_crop_us(lambda: features.hog_lbp_features(batch), len(batch))
        cv = per_crop_us(lambda: [cv_hog.compute(c) for c in batch], len(batch))
        sk = per_crop_us(lambda: [skf.hog(c, 9, (8, 8), (2, 2), "L2-Hys") for c in few], len(few), 3)
        r = (cv / ours, sk / ours, cv / both)
        if size == 64:
            ratios.update(hog_vs_cv2=r[0], hog_vs_skimage=r[1], hoglbp_vs_cv2=r[2])
        print(f"{size:>4}px | {ours:>8.1f} us | {both:>5.1f} us | {cv:>5.1f} us | {sk:>8.0f} us | "
              f"{r[0]:>5.1f}x | {r[1]:>9.0f}x | {r[2]:>13.1f}x")

    # Colour cues: one pass per crop against four OpenCV passes over the batch.
    colour = crops_of(64, 1000, color=True)
    assert np.allclose(features.color_features(colour), cv2_color_cues(colour), atol=1e-5)
    ours = per_crop_us(lambda: features.color_features(colour), len(colour))
    cv = per_crop_us(lambda: cv2_color_cues(colour), len(colour))
    ratios["color_vs_cv2"] = cv / ours
    print(f"\ncolour cues, 64x64: maskhog {ours:.1f} us, OpenCV calls {cv:.1f} us ({cv / ours:.1f}x)")

    # Threads: the same big batch on one thread, then split over two.
    batch = crops_of(64, 4000)
    one = per_crop_us(lambda: features.hog_lbp_features(batch), len(batch), 5)
    with ThreadPoolExecutor(2) as pool:
        halves = np.array_split(batch, 2)
        two = per_crop_us(lambda: list(pool.map(features.hog_lbp_features, halves)), len(batch), 5)
    ratios["threads"] = one / two
    print(f"\nHOG+LBP 64x64 batch throughput: 1 thread {1e6 / one:,.0f} crops/s, "
          f"2 threads {1e6 / two:,.0f} crops/s ({one / two:.2f}x)")
    print("\ntargets:", ", ".join(
        f"{k} {ratios[k]:.1f}x (>= {v}x: {'met' if ratios[k] >= v else 'NOT met'})"
        for k, v in TARGETS.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simd", choices=["both", "auto", "baseline"], default="both")
    args = parser.parse_args()
    if args.simd != "both":
        os.environ["MASKHOG_SIMD"] = args.simd
        run_one()
        return
    for simd in ("auto", "baseline"):
        subprocess.run([sys.executable, __file__, "--simd", simd], check=True)


if __name__ == "__main__":
    main()
