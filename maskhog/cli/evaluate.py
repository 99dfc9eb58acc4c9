"""``maskhog evaluate``: measure a mask classifier on labelled folders it was not trained on."""

from __future__ import annotations

import json
import time

import click

from .common import Summary, class_folder_finder, classifier_options, faces_option, log, progress, training_extras


@click.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--report", "report_dir", type=click.Path(file_okay=False),
              help="Write metrics.json and PNG plots to this folder.")
@click.option("--min-face", default=0, show_default=True, type=click.IntRange(0),
              help="Skip annotated faces whose shorter side is below this many pixels.")
@faces_option(None)
@classifier_options()
def evaluate(data, report_dir, min_face, faces, classifier):
    """Measure a model on labelled DATA folders it was not trained on.

    Prints accuracy, balanced accuracy, per-class precision / recall / F1,
    the confusion matrix and ROC AUC as JSON.
    """
    start = time.perf_counter()
    training_extras("sklearn", *(["matplotlib"] if report_dir else []))
    from ..classify import Cascade
    from ..progress import say
    from ..training.evaluate import evaluate as run
    from ..training.faces import finder_for

    # Crop class-folder images the way the model's training did, unless told.
    detector = finder_for(classifier) if faces is None else class_folder_finder(faces)
    result = run(classifier, list(data), detector=detector, min_face=min_face, progress_factory=progress)
    m = dict(result["metrics"])
    m["stage"] = getattr(classifier, "stage", "cascade" if isinstance(classifier, Cascade) else "svm")
    if isinstance(classifier, Cascade):
        m["cnn_fraction"] = round(classifier.cnn_fraction, 4)
    summary = Summary(start=start)
    for message in m.pop("skipped"):
        summary.skip(message)
    click.echo(json.dumps(m, indent=1))
    summary.read = len({path for path, _ in result["sources"]})
    summary.labels.update(result["labels"].tolist())
    say(summary.line())
    if report_dir:
        from ..training.report import write_report

        for path in write_report(result, report_dir):
            log(f"wrote {path}")
