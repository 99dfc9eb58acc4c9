"""What several commands share: messages, progress, and option groups that build objects.

An option group (:func:`detector_options`, :func:`classifier_options`) adds its
options to a command and hands the command one object built from them (a
detector, a classifier), so a command's parameters say what it needs, not how
each part is configured. Settings that do not go together are the factories'
to refuse (:class:`maskhog.errors.OptionError`); here they become usage errors.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import time
from collections import Counter

import click

from ..errors import OptionError

__all__ = ["log", "progress", "fail", "Summary", "stop_on_sigterm", "detector_options", "classifier_options", "model_option",
           "min_face_option", "upsample_option", "later_looks_option", "augment_option", "faces_option",
           "training_extras", "class_folder_finder", "cluster_option"]


def log(message: str) -> None:
    """A message on stderr (stdout carries data only)."""
    click.echo(f"maskhog: {message}", err=True)


def progress(total, label):
    """Progress on stderr, as a context manager with ``update(n)`` (:func:`maskhog.progress.bar`:
    a bar on a terminal, a line every few seconds in a log, nothing under -q)."""
    from ..progress import bar

    return bar(total, label)


def fail(exc: Exception):
    """The click error for a library error: a usage error for options that do not go
    together, else a plain error with the library's message."""
    if isinstance(exc, OptionError):
        return click.UsageError(str(exc))
    return click.ClickException(str(exc))


class Summary:
    """What a run over many inputs did, for the line that ends it on stderr."""

    def __init__(self, start: float | None = None):
        self.read, self.failed, self.labels = 0, 0, Counter()
        self.start = time.perf_counter() if start is None else start

    def add(self, labels=()) -> None:
        """One input done, with the labels of its faces."""
        self.read += 1
        self.labels.update(labels)

    def skip(self, why) -> None:
        """One input that could not be done: said on stderr, and counted."""
        log(f"skipped {why}")
        self.failed += 1

    def line(self) -> str:
        seconds = time.perf_counter() - self.start
        faces = ", ".join(f"{n} {label}" for label, n in sorted(self.labels.items())) or "none"
        return (f"{self.read} images read, {self.failed} failed; faces: {faces}; "
                f"{seconds:.1f} s, {self.read / max(seconds, 1e-9):.1f} images/s")


@contextlib.contextmanager
def stop_on_sigterm():
    """Within this block, SIGTERM (a service manager's stop) unwinds like Ctrl-C: open
    outputs are closed, worker processes stopped, and the exit status is 143."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:   # not the main thread (a test runner's, say): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def training_extras(*modules: str) -> None:
    """Stop with a message naming the extra to install when a training module is missing."""
    from ..training import require

    try:
        require(*modules)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


def _options(command, options):
    for option in reversed(options):
        command = option(command)
    return command


# ----------------------------------------------------------------- detectors --

def detector_options(*, upsample: bool = True):
    """Add the face detector's options; the command receives ``detector``, a built one."""
    def decorate(command):
        @functools.wraps(command)
        def run(*args, detector, templates, verifier, pose, detector_model, detector_config,
                upsample=0, **kwargs):
            from ..detect import make_detector

            try:
                built = make_detector(detector, templates=templates, verifier=verifier, pose=pose,
                                      model=detector_model, config=detector_config, upsample=upsample)
            except (ValueError, RuntimeError) as exc:
                raise fail(exc) from None
            return command(*args, detector=built, **kwargs)

        options = [
            click.option("--detector", type=click.Choice(["maskhog", "hog", "dlib", "haar", "dnn"]), default=None,
                         help="Face detector: maskhog's own (the default: YuNet proposes, our face verifier "
                              "judges; finds masked faces; our fHOG templates on gray images), hog (the classical path: our "
                              "fHOG templates and proposal network, no YuNet), dlib's stock one or OpenCV's "
                              "Haar cascade (both for unmasked faces; for comparison), or a network given by "
                              "--detector-model."),
            click.option("--templates", type=click.Path(exists=True, file_okay=False),
                         help="Folder of maskhog detector templates made by `maskhog train-detector` "
                              "(default: the shipped ones)."),
            click.option("--pose/--no-pose", default=False, show_default=True,
                         help="maskhog detector: also scan dlib's five stock pose templates, for large "
                              "faces turned aside or tilted (more unmasked faces found, for half as "
                              "much detection time again)."),
            click.option("--verifier", type=click.Choice(["auto", "cnn", "linear", "none"]), default=None,
                         help="maskhog detector's face verifier: the CNN one (auto, the default: where the "
                              "templates' folder has it), the linear one (cheaper), or none (the templates "
                              "alone)."),
            click.option("--detector-model", type=click.Path(exists=True, dir_okay=False),
                         help="A face detector network for OpenCV DNN (implies --detector dnn): an SSD "
                              "ending in DetectionOutput, such as OpenCV's res10 face detector, or the "
                              "AIZOO face-mask SSD. See maskhog.detect.dnn."),
            click.option("--detector-config", type=click.Path(exists=True, dir_okay=False),
                         help="With --detector-model: the network's description file where its format has "
                              "one (Caffe .prototxt, TensorFlow .pbtxt)."),
        ]
        return _options(run, options + ([upsample_option] if upsample else []))
    return decorate


upsample_option = click.option(
    "--upsample", default=0, show_default=True, type=click.IntRange(0, 3),
    help="Double the image this many times first, to find smaller faces (slower).")

min_face_option = click.option(
    "--min-face", default=0, show_default=True, type=click.IntRange(0),
    help="Smallest faces wanted, in pixels across: smaller ones are ignored, and images are "
         "searched at the scale that makes such a face the detector's smallest (enlarged below "
         "about 41 px: slower; shrunk above it: faster). 0: search images as they are.")

later_looks_option = click.option(
    "--later-looks/--no-later-looks", default=True, show_default=True,
    help="Look again at an image in which no face is found: shrunk into a gray border, enlarged if "
         "small, mirrored (close-ups and thumbnails are found; a 640x480 photo with nobody in it "
         "takes about 0.2 s instead of 0.03).")


# --------------------------------------------------------------- classifiers --

model_option = click.option("--model", "model_path", type=click.Path(dir_okay=False),
                            help="Model file (default: the shipped one).")

_THRESHOLD_DEFAULT = "the one chosen on validation faces, in the CNN file's header"


def classifier_options(*, cascade_default: float | None = None, threshold_help: str = _THRESHOLD_DEFAULT):
    """Add --model, --stage, --cnn and --cascade-threshold; the command receives ``classifier``
    (:func:`maskhog.classify.make_classifier`). ``cascade_default``: the cascade threshold
    when none is given (default: the CNN file's own)."""
    def decorate(command):
        @functools.wraps(command)
        def run(*args, model_path, stage, cnn_path, cascade_threshold, **kwargs):
            from ..classify import default_stage, make_classifier

            if cascade_threshold is None and (stage or default_stage(model_path, cnn_path)) == "cascade":
                cascade_threshold = cascade_default
            try:
                classifier = make_classifier(stage, model_path, cnn_path, threshold=cascade_threshold)
            except ValueError as exc:
                raise fail(exc) from None
            cnn = getattr(classifier, "cnn", classifier if getattr(classifier, "stage", None) == "cnn" else None)
            if cnn is not None:   # news, not a warning: silent under -q
                from ..progress import say

                say(f"CNN stage runs on OpenCV DNN's {cnn.backend} backend ({cnn.path.name})")
            return command(*args, classifier=classifier, **kwargs)

        return _options(run, [
            model_option,
            click.option("--stage", type=click.Choice(["svm", "cnn", "cascade"]), default=None,
                         help="Classifier: the linear SVM, the CNN, or the cascade (the SVM where it is "
                              "sure, else the CNN). Default: cascade, or svm when --model is given "
                              "without --cnn."),
            click.option("--cnn", "cnn_path", type=click.Path(dir_okay=False),
                         help="CNN file for --stage cnn or cascade (default: the shipped one)."),
            click.option("--cascade-threshold", type=click.FloatRange(0, 1), default=None,
                         help=f"The SVM confidence below which the cascade asks the CNN (default: "
                              f"{threshold_help}). Higher: more faces to the CNN, slower and more "
                              "accurate."),
        ])
    return decorate


# ------------------------------------------------------------------ clusters --

def _connect(ctx, param, address):
    """The client of --cluster's scheduler, closed with the command; a usage error when the
    cluster cannot be used, said before any output starts."""
    if address is None:
        return None
    from ..cluster import ClusterError, connect

    try:
        client = connect(address)
    except ClusterError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    ctx.call_on_close(client.close)
    threads = client.nthreads()
    log(f"cluster {address}: {len(threads)} workers, {sum(threads.values())} threads")
    return client


cluster_option = click.option(
    "--cluster", metavar="ADDRESS", callback=_connect,
    help="Run on the workers of this Dask scheduler (tcp://HOST:8786) instead of here. Each worker "
         "needs this maskhog version and the same input paths, or predict's --send-images "
         "(pip install 'maskhog[dask]').")


# ------------------------------------------------------------------ training --

augment_option = click.option(
    "--augment", "copies", default=2, show_default=True, type=click.IntRange(0, 20),
    help="Augmented copies of each training face of the commonest class; rarer classes get "
         "more in proportion, up to 24 (0: none).")


def faces_option(default):
    return click.option(
        "--faces", type=click.Choice(["detect", "whole"]), default=default, show_default=True,
        help="Faces of class-folder images: the largest face found as `predict` finds faces (else "
             "the whole image), or always the whole image." + ("" if default else
             " Default: as the model was trained."))


def class_folder_finder(mode):
    """What finds the face of a class-folder image for ``--faces``: the run-time search, or
    ``None`` for the whole image."""
    from ..training.faces import face_finder

    return face_finder() if mode == "detect" else None
