"""``maskhog train-cnn``: the CNN second stage, and the cascade threshold it is asked from."""

from __future__ import annotations

import json

import click

from .common import augment_option, log, progress, training_extras


@click.command("train-cnn")
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="ONNX file to write.")
@click.option("--svm", "svm_path", type=click.Path(dir_okay=False),
              help="The cascade's SVM, trained on the same DATA (default: the shipped one).")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(1, 500))
@augment_option
@click.option("--seed", default=0, show_default=True, help="Seed of the split, augmentation and weights.")
@click.option("--threads", default=0, type=click.IntRange(0), help="PyTorch threads (0: all cores).")
@click.option("--max-cnn-fraction", default=None, type=click.FloatRange(0, 1),
              help="At most this share of validation faces may go to the CNN in the cascade "
                   "(default 0.25: faces of other sources go there more often).")
@click.option("--color/--gray", default=True, show_default=True,
              help="Colour crops (mask colour is a strong cue), or gray ones as the SVM's.")
def train_cnn(data, out, svm_path, epochs, copies, seed, threads, max_cnn_fraction, color):
    """Train the CNN second stage on DATA folders and export it to ONNX (needs maskhog[cnn]).

    DATA is read, split and augmented as `maskhog train` does with the same
    seed, so give the SVM's own training folders. The cascade threshold (the
    SVM confidence below which the CNN decides) is chosen on the validation
    faces and stored in the ONNX file's header with the test figures.
    """
    training_extras("sklearn", "torch")
    from ..classify import MaskClassifier, default_model_path
    from ..training.augment import Augment
    from ..training.cnn import MAX_CNN_FRACTION
    from ..training.cnn import train_cnn as run

    if max_cnn_fraction is None:
        max_cnn_fraction = MAX_CNN_FRACTION
    try:
        svm = MaskClassifier.load(svm_path or default_model_path())
        cnn, report = run(list(data), out=out, svm=svm, augment=Augment(copies=copies), seed=seed,
                          epochs=epochs, threads=threads or None, max_cnn_fraction=max_cnn_fraction,
                          color=color, progress_factory=progress, log_fn=log)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    m, c = report["test_metrics"], report["cascade"]
    click.echo(json.dumps({
        "model": out, "classes": list(cnn.classes), "epoch": report["fit"]["kept_epoch"],
        "test_accuracy": round(m["accuracy"], 4), "test_balanced_accuracy": round(m["balanced_accuracy"], 4),
        "svm_test_accuracy": round(report["svm_test_metrics"]["accuracy"], 4),
        "cascade_threshold": c["threshold"], "cascade_test": c["test"]}, indent=1))
