"""The ``maskhog`` command line.

Each command parses its options and calls the library; nothing here knows
an algorithm. Heavy modules are imported inside the commands so that
``maskhog --help`` answers at once on an old laptop. Data goes to stdout,
logs and progress to stderr.
"""

from __future__ import annotations

import json
import sys

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maskhog")
def main():
    """Tell whether the people in images and video wear a face mask, on a CPU."""


@main.command()
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
    import time

    import numpy as np

    from .features import SIMD, hog_lbp_features
    from .io import ImageError, read_image, to_gray

    if not images and not demo:
        raise click.UsageError("give image files, or --demo")
    names, crops = [], []
    if demo:
        from skimage import data
        names.append("astronaut (scikit-image)")
        crops.append(_square(to_gray(data.astronaut()[:, :, ::-1]), size))
    for path in images:
        try:
            crops.append(_square(to_gray(read_image(path)), size))
            names.append(path)
        except ImageError as exc:
            click.echo(f"maskhog: skipped {exc}", err=True)
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
    click.echo(f"maskhog: {len(batch)} crop(s) of {size}x{size}, {micros:.1f} us per crop "
               f"({SIMD} kernels)", err=True)
    if out:
        np.save(out, feats)
        click.echo(f"maskhog: saved {feats.shape} to {out}", err=True)


def _square(gray, size):
    import cv2
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
