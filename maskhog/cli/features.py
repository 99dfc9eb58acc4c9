"""``maskhog features``: the HOG + LBP features of whole images, for your own experiments."""

from __future__ import annotations

import json
import time

import click

from .common import log


@click.command()
@click.argument("images", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--demo", is_flag=True, help="Describe scikit-image's bundled astronaut photo.")
@click.option("--size", default=64, show_default=True, type=click.IntRange(16, 512),
              help="Crops are resized to SIZE x SIZE pixels.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Save the (N, D) float32 feature matrix as a .npy file.")
def features(images, demo, size, out):
    """Print the HOG + LBP features of whole IMAGES (grayscale, resized).

    One JSON line per image on stdout: its path, the feature length and a few
    summary values; --out saves the full matrix for your own experiments.
    """
    import cv2
    import numpy as np

    from ..features import SIMD, hog_lbp_features
    from ..io import ImageError, read_image, to_gray
    from ..io.demo import astronaut

    def square(image):
        return cv2.resize(to_gray(image), (size, size), interpolation=cv2.INTER_AREA)

    if not images and not demo:
        raise click.UsageError("give image files, or --demo")
    names, crops = [], []
    if demo:
        names.append("astronaut (scikit-image)")
        crops.append(square(astronaut()))
    for path in images:
        try:
            crops.append(square(read_image(path)))
            names.append(path)
        except ImageError as exc:
            log(f"skipped {exc}")
    if not crops:
        raise click.ClickException("no readable image")

    batch = np.stack(crops)
    start = time.perf_counter()
    feats = hog_lbp_features(batch)
    micros = (time.perf_counter() - start) / len(batch) * 1e6
    for name, f in zip(names, feats):
        record = {"image": name, "length": int(f.size), "hog": f[:-160].round(4)[:6].tolist(),
                  "lbp_uniform_share": round(float(f[-160:].reshape(16, 10)[:, :9].sum() / 16), 4)}
        click.echo(json.dumps(record))
    log(f"{len(batch)} crop(s) of {size}x{size}, {micros:.1f} us per crop ({SIMD} kernels)")
    if out:
        np.save(out, feats)
        log(f"saved {feats.shape} to {out}")
