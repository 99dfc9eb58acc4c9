"""``maskhog train``: a calibrated linear mask classifier from your labelled folders."""

from __future__ import annotations

import json

import click

from .common import (augment_option, class_folder_finder, cluster_option, faces_option, log, progress,
                     training_extras)


@click.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Model file to write (.npz).")
@click.option("--size", default=64, show_default=True, type=click.IntRange(16, 256), help="Crop side in pixels.")
@click.option("--margin", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Margin around the face box, as a fraction of its side.")
@click.option("--clahe/--no-clahe", default=False, show_default=True,
              help="Even out lighting in each crop (gray models only).")
@click.option("--color/--gray", default=True, show_default=True,
              help="Add colour cues (where skin shows) to HOG + LBP, or describe gray crops only "
                   "(for gray or infrared cameras).")
@augment_option
@faces_option("detect")
@click.option("--seed", default=0, show_default=True, help="Seed of the split and the augmentation.")
@click.option("--max-pixels", default=50_000_000, show_default=True, help="Refuse larger images.")
@cluster_option
def train(data, out, size, margin, clahe, color, copies, faces, seed, max_pixels, cluster):
    """Train a mask classifier on DATA folders (class folders or Pascal VOC), combined.

    Faces are split into train / validation / test by group (near-duplicates
    and faces of one photo stay together). The SVM's C is chosen on the
    validation faces; the test figures are printed and stored in the model.
    With --cluster, the faces are found and cut on a Dask cluster's workers.
    """
    if color and clahe:
        raise click.UsageError("--clahe evens out gray crops: use it with --gray")
    training_extras("sklearn")
    from ..crops import CropSpec
    from ..training.augment import Augment
    from ..training.linear import train as run

    spec = CropSpec(size=size, margin=margin, clahe=clahe, color=color)
    try:
        model, report = run(list(data), out=out, spec=spec, augment=Augment(copies=copies),
                            detector=class_folder_finder(faces), seed=seed, max_pixels=max_pixels,
                            progress_factory=progress, log_fn=log, cluster=cluster)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    m = report["test_metrics"]
    summary = {"model": out, "classes": list(model.classes), "C": report["search"]["C"],
               "test_accuracy": round(m["accuracy"], 4),
               "test_balanced_accuracy": round(m["balanced_accuracy"], 4),
               "test_macro_f1": round(m["macro_f1"], 4),
               "test_recall": {c: round(v["recall"], 4) for c, v in m["per_class"].items()},
               "skipped_files": report["data"]["skipped"], "seconds": report["seconds"]}
    click.echo(json.dumps(summary, indent=1))
