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
            _log(f"skipped {exc}")
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
    _log(f"{len(batch)} crop(s) of {size}x{size}, {micros:.1f} us per crop ({SIMD} kernels)")
    if out:
        np.save(out, feats)
        _log(f"saved {feats.shape} to {out}")


def _progress(total, label):
    """A progress bar on stderr, as a context manager with ``update(n)``."""
    return click.progressbar(length=total, label=label, file=sys.stderr)


def _log(message):
    click.echo(f"maskhog: {message}", err=True)


def _resolve_stage(stage, model_path, cnn_path):
    """--stage's default: the cascade with the shipped models, the SVM alone with your own."""
    if stage is not None:
        return stage
    return "cascade" if model_path is None or cnn_path is not None else "svm"


def _load_classifier(model_path, stage, cnn_path, cascade_threshold=None):
    """The classifier of a --stage: the SVM, the CNN, or the cascade of both."""
    from .cnn import make_classifier
    from .model import ModelError, default_model_path

    stage = _resolve_stage(stage, model_path, cnn_path)
    if cascade_threshold is not None and stage != "cascade":
        raise click.UsageError(f"--cascade-threshold applies to --stage cascade only, not {stage}")
    try:
        model = make_classifier(stage, model_path or default_model_path(), cnn_path,
                                threshold=cascade_threshold)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    cnn = getattr(model, "cnn", model if stage == "cnn" else None)
    if cnn is not None:
        _log(f"CNN stage runs on OpenCV DNN's {cnn.backend} backend ({cnn.path.name})")
    return model


def _face_detector(mode):
    from .training import face_finder
    return face_finder() if mode == "detect" else None


# Options several commands share, defined once.
_model_option = click.option("--model", "model_path", type=click.Path(dir_okay=False),
                             help="Model file (default: the shipped one).")

_min_face_option = click.option(
    "--min-face", default=0, show_default=True, type=click.IntRange(0),
    help="Smallest faces wanted, in pixels across: smaller ones are ignored, and images are "
         "searched at the scale that makes such a face the detector's smallest (enlarged below "
         "about 41 px: slower; shrunk above it: faster). 0: search images as they are.")


#: ``live``'s cascade threshold: every colour face to the CNN (faces without colour still go
#: to the SVM's gray weights). ``live`` judges a face when its track appears, moves or is
#: rechecked, not on every frame, so the CNN's 0.75 ms per face costs little there:
#: benchmarks/bench_live.py labelled 0.94 of 70 people right against 0.89 with the header's
#: threshold of the time (0.589); with a later one (0.760) both labelled 0.94, at 159 against
#: 167 frames/s. The CNN is the more accurate stage, so live keeps asking it.
LIVE_CASCADE_THRESHOLD = 1.0

_THRESHOLD_DEFAULT = "the one chosen on validation faces, in the CNN file's header"


def _stage_options(threshold_default=_THRESHOLD_DEFAULT):
    """--stage, --cnn and --cascade-threshold, as one decorator."""
    def add(f):
        f = click.option("--cascade-threshold", type=click.FloatRange(0, 1), default=None,
                         help=f"The SVM confidence below which the cascade asks the CNN (default: "
                              f"{threshold_default}). Higher: more faces to the CNN, slower and "
                              "more accurate.")(f)
        f = click.option("--cnn", "cnn_path", type=click.Path(dir_okay=False),
                         help="CNN file for --stage cnn or cascade (default: the shipped one).")(f)
        return click.option(
            "--stage", type=click.Choice(["svm", "cnn", "cascade"]), default=None,
            help="Classifier: the linear SVM, the CNN, or the cascade (the SVM where it is sure, "
                 "else the CNN). Default: cascade, or svm when --model is given without --cnn.")(f)
    return add


def _detector_option(f):
    f = click.option("--detector-config", "dnn_config", type=click.Path(exists=True, dir_okay=False),
                     help="With --detector-model: the network's description file where its format has "
                          "one (Caffe .prototxt, TensorFlow .pbtxt).")(f)
    f = click.option("--detector-model", "dnn_model", type=click.Path(exists=True, dir_okay=False),
                     help="A face detector network for OpenCV DNN (implies --detector dnn): an SSD "
                          "ending in DetectionOutput, such as OpenCV's res10 face detector, or the "
                          "AIZOO face-mask SSD. See maskhog.dnn_detect.")(f)
    f = click.option("--verifier", type=click.Choice(["auto", "cnn", "linear", "none"]), default="auto",
                     show_default=True,
                     help="maskhog detector's face verifier: the CNN one (auto: where the templates' "
                          "folder has it), the linear one (cheaper), or none (the templates alone).")(f)
    f = click.option("--pose/--no-pose", default=False, show_default=True,
                     help="maskhog detector: also scan dlib's five stock pose templates, for large "
                          "faces turned aside or tilted (more unmasked faces found, for half as "
                          "much detection time again).")(f)
    f = click.option("--templates", "templates_dir", type=click.Path(exists=True, file_okay=False),
                     help="Folder of maskhog detector templates made by `maskhog train-detector` "
                          "(default: the shipped ones).")(f)
    return click.option(
        "--detector", "detector_name", type=click.Choice(["maskhog", "dlib", "haar", "dnn"]), default=None,
        help="Face detector: maskhog's own (the default; finds masked faces), dlib's stock one or "
             "OpenCV's Haar cascade (both for unmasked faces; for comparison), or a network given "
             "by --detector-model.")(f)


def _later_looks_option(f):
    return click.option("--later-looks/--no-later-looks", "later_looks", default=True, show_default=True,
                        help="Look again at an image in which no face is found: shrunk into a gray "
                             "border, enlarged if small, mirrored (close-ups and thumbnails are found; "
                             "a 640x480 photo with nobody in it takes about 0.2 s instead of 0.03).")(f)


def _make_detector(name, templates_dir, dnn_model=None, dnn_config=None, verifier="auto", pose=False,
                   **options):
    from .detect import make_detector

    name = name or ("dnn" if dnn_model else "maskhog")
    if templates_dir and name != "maskhog":
        raise click.UsageError("--templates is for --detector maskhog")
    if verifier != "auto" and name != "maskhog":
        raise click.UsageError("--verifier is for --detector maskhog")
    if pose and name != "maskhog":
        raise click.UsageError("--pose is for --detector maskhog")
    if name == "maskhog":
        options["verifier"] = {"auto": True, "none": False}.get(verifier, verifier)
        options["pose"] = pose
    if (dnn_model or dnn_config) and name != "dnn":
        raise click.UsageError(f"--detector-model and --detector-config are for --detector dnn, not {name}")
    if name == "dnn":
        if not dnn_model:
            raise click.UsageError("--detector dnn needs --detector-model FILE")
        if options.pop("upsample", 0):
            raise click.UsageError("--upsample is not for --detector dnn: its network takes a fixed "
                                   "input size")
        options.update(model=dnn_model, config=dnn_config)
    try:
        return make_detector(name, **options, **({"folder": templates_dir} if templates_dir else {}))
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None


_upsample_option = click.option(
    "--upsample", default=0, show_default=True, type=click.IntRange(0, 3),
    help="Double the image this many times first, to find smaller faces (slower).")


_augment_option = click.option(
    "--augment", "copies", default=2, show_default=True, type=click.IntRange(0, 20),
    help="Augmented copies of each training face of the commonest class; rarer classes get "
         "more in proportion, up to 24 (0: none).")


def _faces_option(default):
    return click.option(
        "--faces", type=click.Choice(["detect", "whole"]), default=default, show_default=True,
        help="Faces of class-folder images: the largest face found as `predict` finds faces (else "
             "the whole image), or always the whole image." + ("" if default else
             " Default: as the model was trained."))


@main.command()
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
@_augment_option
@_faces_option("detect")
@click.option("--seed", default=0, show_default=True, help="Seed of the split and the augmentation.")
@click.option("--max-pixels", default=50_000_000, show_default=True, help="Refuse larger images.")
def train(data, out, size, margin, clahe, color, copies, faces, seed, max_pixels):
    """Train a mask classifier on DATA folders (class folders or Pascal VOC), combined.

    Faces are split into train / validation / test by group (near-duplicates
    and faces of one photo stay together). The SVM's C is chosen on the
    validation faces; the test figures are printed and stored in the model.
    """
    from .augment import Augment
    from .crops import CropSpec
    from .training import train as run

    if color and clahe:
        raise click.UsageError("--clahe evens out gray crops: use it with --gray")
    spec = CropSpec(size=size, margin=margin, clahe=clahe, color=color)
    model, report = run(list(data), out=out, spec=spec, augment=Augment(copies=copies),
                        detector=_face_detector(faces), seed=seed, max_pixels=max_pixels,
                        progress_factory=_progress, log_fn=_log)
    m = report["test_metrics"]
    summary = {"model": out, "classes": list(model.classes), "C": report["search"]["C"],
               "test_accuracy": round(m["accuracy"], 4),
               "test_balanced_accuracy": round(m["balanced_accuracy"], 4),
               "test_macro_f1": round(m["macro_f1"], 4),
               "test_recall": {c: round(v["recall"], 4) for c, v in m["per_class"].items()},
               "skipped_files": report["data"]["skipped"], "seconds": report["seconds"]}
    click.echo(json.dumps(summary, indent=1))


@main.command("train-cnn")
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="ONNX file to write.")
@click.option("--svm", "svm_path", type=click.Path(dir_okay=False),
              help="The cascade's SVM, trained on the same DATA (default: the shipped one).")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(1, 500))
@_augment_option
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
    from .augment import Augment
    from .cnn_training import MAX_CNN_FRACTION, train_cnn as run
    from .model import ModelError, MaskClassifier, default_model_path

    if max_cnn_fraction is None:
        max_cnn_fraction = MAX_CNN_FRACTION
    try:
        svm = MaskClassifier.load(svm_path or default_model_path())
        cnn, report = run(list(data), out=out, svm=svm, augment=Augment(copies=copies), seed=seed,
                          epochs=epochs, threads=threads or None, max_cnn_fraction=max_cnn_fraction,
                          color=color,
                          progress_factory=_progress, log_fn=_log)
    except (ModelError, RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    m, c = report["test_metrics"], report["cascade"]
    click.echo(json.dumps({
        "model": out, "classes": list(cnn.classes), "epoch": report["fit"]["kept_epoch"],
        "test_accuracy": round(m["accuracy"], 4), "test_balanced_accuracy": round(m["balanced_accuracy"], 4),
        "svm_test_accuracy": round(report["svm_test_metrics"]["accuracy"], 4),
        "cascade_threshold": c["threshold"], "cascade_test": c["test"]}, indent=1))


@main.command("train-detector")
@click.argument("scenes", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--faces", type=click.Path(exists=True, file_okay=False),
              help="Class folders of tight face photos, pasted into scenes by the second template.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the two .svm templates, the proposal network and the face verifiers (maskhog/models/ for the "
                   "shipped detector).")
@click.option("--work", type=click.Path(file_okay=False),
              help="Folder for the training chips (default: a temporary one, removed after).")
@click.option("--seed", default=0, show_default=True, help="Seed of the photo split and the chips.")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--max-runtime", default=1700, show_default=True, type=click.FloatRange(10),
              help="Seconds each template's solver may run.")
@click.option("--cnn-verifier/--no-cnn-verifier", default=True, show_default=True,
              help="Also train the proposal network and the CNN face verifier (needs PyTorch: "
                   "pip install 'maskhog[cnn]'; about 18 minutes more on two threads).")
@click.option("--linear-verifier/--no-linear-verifier", default=None,
              help="Also train the linear face verifier (about 3 minutes). Default: only where the "
                   "CNN one is not trained, since the detector prefers the CNN one.")
def train_detector(scenes, faces, out_dir, work, seed, threads, max_runtime, cnn_verifier, linear_verifier):
    """Train maskhog's face detector (fHOG templates and face verifiers) on Pascal VOC SCENES folders.

    Photos are split by image (20% test, 10% validation held out); chips are
    cut around the training photos' faces at the detector's scale, and the
    second template also learns from face photos (--faces) pasted into
    scenes. Where PyTorch is installed, a small proposal network learns the
    same faces, and a small CNN face verifier learns which of both's
    proposals at a low threshold are faces; else a linear verifier learns
    from the templates' (--linear-verifier: both verifiers). With the
    project's scenes/ and faces/ it makes a detector that measures as the
    shipped one does (about 11 minutes and 6.5 GB on 2 cores for the
    templates, plus 1.5 for the network and 16 for the CNN verifier, or 3
    for the linear one).
    """
    import importlib.util
    import tempfile
    from pathlib import Path

    from .detector_training import VERIFIER
    from .detector_training import train_detector as run
    from .verify import CNN_VERIFIER_FILE

    if cnn_verifier and importlib.util.find_spec("torch") is None:
        _log("no PyTorch here: the linear face verifier only (pip install 'maskhog[cnn]' for the CNN one)")
        cnn_verifier = False
    if linear_verifier is None:
        linear_verifier = not cnn_verifier
    with tempfile.TemporaryDirectory() as tmp:
        try:
            records = run(list(scenes), faces, out_dir=out_dir, work=work or tmp, seed=seed,
                          threads=threads, max_runtime=max_runtime,
                          verifier=VERIFIER if linear_verifier else None, log_fn=_log)
            if cnn_verifier:
                from .cnn_verifier_training import train_cnn_verifier
                from .proposal_training import train_proposals, training_photos
                from .proposals import PROPOSAL_FILE

                # The proposal network first: the verifier learns from its proposals too.
                _log("proposal network: training (about 1.5 minutes)")
                records[PROPOSAL_FILE] = train_proposals(training_photos(list(scenes), seed), out_dir, seed=seed)

                records[CNN_VERIFIER_FILE] = train_cnn_verifier(
                    list(scenes), templates=out_dir, out=Path(out_dir) / CNN_VERIFIER_FILE, seed=seed,
                    threads=threads, faces=faces, log_fn=_log)
        except (ValueError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(records, indent=1))


@main.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@_model_option
@click.option("--report", "report_dir", type=click.Path(file_okay=False),
              help="Write metrics.json and PNG plots to this folder.")
@click.option("--min-face", default=0, show_default=True, type=click.IntRange(0),
              help="Skip annotated faces whose shorter side is below this many pixels.")
@_faces_option(None)
@_stage_options()
def evaluate(data, model_path, report_dir, min_face, faces, stage, cnn_path, cascade_threshold):
    """Measure a model on labelled DATA folders it was not trained on.

    Prints accuracy, balanced accuracy, per-class precision / recall / F1,
    the confusion matrix and ROC AUC as JSON.
    """
    from .evaluation import evaluate as run
    from .evaluation import write_report

    from .training import finder_for

    model = _load_classifier(model_path, stage, cnn_path, cascade_threshold)
    # Crop class-folder images the way the model's training did, unless told.
    detector = finder_for(model) if faces is None else _face_detector(faces)
    result = run(model, list(data), detector=detector, min_face=min_face,
                 progress_factory=_progress)
    m = dict(result["metrics"])
    m["stage"] = stage = _resolve_stage(stage, model_path, cnn_path)
    if stage == "cascade":
        m["cnn_fraction"] = round(model.cnn_fraction, 4)
    skipped = m.pop("skipped")
    for message in skipped:
        _log(f"skipped {message}")
    click.echo(json.dumps(m, indent=1))
    if report_dir:
        for path in write_report(result, report_dir):
            _log(f"wrote {path}")


@main.command()
@click.argument("inputs", nargs=-1)
@click.option("--demo", is_flag=True,
              help="Use scikit-image's bundled astronaut photo, as is and with a mask drawn on.")
@_model_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv"]), default="jsonl",
              show_default=True, help="Output format on stdout.")
@_detector_option
@_upsample_option
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False),
              help="Write a copy of each image with boxes and labels drawn into this folder.")
@click.option("--fail-on", "fail_on", multiple=True, metavar="LABEL",
              help="Exit with status 1 if any face has this label (e.g. no_mask); repeatable.")
@click.option("--every", default=30, show_default=True, type=click.IntRange(1),
              help="In video files, look at every N-th frame.")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Images processed in parallel, one detector per worker process.")
@_stage_options()
@_min_face_option
@_later_looks_option
def predict(inputs, demo, model_path, fmt, detector_name, templates_dir, verifier, pose, dnn_model, dnn_config, upsample,
            annotate_dir, fail_on, every, jobs,
            stage, cnn_path, cascade_threshold, min_face, later_looks):
    """Find the faces in INPUTS and say whether each wears a mask.

    INPUTS are image files, video files (every N-th frame), folders (searched
    recursively), glob patterns ('shots/*.jpg'), or '-' to read one path per
    line from stdin. One record per image (a video frame is named
    'clip.mp4#frame=120'): the image as given, and for each face its box
    [x1, y1, x2, y2], label and score (the label's probability). Unreadable
    files are reported on stderr and skipped. Exit status: 0 done, 1 a
    --fail-on label was seen (or no image could be read), 2 usage error.
    """
    from pathlib import Path

    from joblib import Parallel, delayed

    from .io import VIDEO_SUFFIXES, ImageError, expand_inputs, read_image, video_frames
    from .labels import LabelError, canonical_label
    from .pipeline import MaskDetector

    try:
        fail_labels = {canonical_label(name) for name in fail_on}
    except LabelError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None
    paths = expand_inputs(inputs, stdin=sys.stdin)
    if not paths and not demo:
        raise click.UsageError("give image files, folders, patterns or '-', or --demo")
    detector = MaskDetector(_make_detector(detector_name, templates_dir, dnn_model, dnn_config, verifier, pose,
                                           upsample=upsample),
                            _load_classifier(model_path, stage, cnn_path, cascade_threshold),
                            min_face=min_face, second_look=later_looks)

    def images():
        """(name, image) pairs in input order; bad inputs are reported and skipped."""
        yield from _demo_images() if demo else []
        for path in paths:
            try:
                if Path(path).suffix.lower() in VIDEO_SUFFIXES:
                    for k, frame in video_frames(path, every=every):
                        yield f"{path}#frame={k}", frame
                else:
                    yield path, read_image(path)
            except ImageError as exc:
                _log(f"skipped {exc}")

    records, written = [], set()
    # Small batches keep memory bounded on long videos; each worker process
    # gets its own copy of the detector, and results keep the input order.
    with Parallel(n_jobs=jobs) as parallel:
        for batch in _batches(images(), 4 * jobs):
            if jobs > 1:
                results = parallel(delayed(detector.detect)(image) for _, image in batch)
            else:
                results = [detector.detect(image) for _, image in batch]
            for (name, image), faces in zip(batch, results):
                records.append({"image": name, "faces": [f.to_dict() for f in faces]})
                if annotate_dir:
                    _annotate(image, faces, Path(annotate_dir), name, written)
    _write_records(records, fmt)
    if not records:
        raise click.ClickException("no readable image")
    seen = {f["label"] for r in records for f in r["faces"]}
    if seen & fail_labels:
        _log(f"failing: found {', '.join(sorted(seen & fail_labels))}")
        sys.exit(1)


@main.command()
@click.argument("source")
@_model_option
@_detector_option
@click.option("--detect-every", default=3, show_default=True, type=click.IntRange(1),
              help="Detect faces on every N-th frame; track them in between.")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(0.1, 4.0),
              help="Resize frames by this factor before detecting (below 1 is faster).")
@click.option("--max-fps", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Cap the processing rate (0: as fast as possible) to leave CPU for others.")
@click.option("--realtime", is_flag=True,
              help="Pace a video file at its own frame rate, newest frame only, like a camera.")
@click.option("--stats", is_flag=True, help="Print a JSON stats line to stderr every 5 s.")
@click.option("--headless", is_flag=True,
              help="No window, events only (also when no window can open: maskhog installs "
                   "OpenCV without a GUI; `pip install opencv-contrib-python` for one).")
@_stage_options(threshold_default=f"{LIVE_CASCADE_THRESHOLD}, every face in colour to the CNN")
@_min_face_option
@click.option("--threads", default=0, show_default=True, type=click.IntRange(0, 64),
              help="OpenCV's worker threads (resizing, the CNN stage); 0: OpenCV's default. "
                   "1 leaves a core free on a two-core machine.")
@click.option("--recheck-every", default=2, show_default=True, type=click.IntRange(1),
              help="Classify a face that holds still again only every N detections (new and "
                   "moving faces at once).")
@click.option("--tracker", type=click.Choice(["none", "correlation"]), default="none",
              show_default=True, help="Between detections, hold the face boxes still, or follow "
                                      "them with dlib's correlation tracker (about 4 ms per face "
                                      "per frame; for people who move fast).")
def live(source, model_path, detector_name, templates_dir, verifier, pose, dnn_model, dnn_config, detect_every, scale,
         max_fps, realtime, stats, headless, stage, cnn_path, cascade_threshold, min_face, threads,
         recheck_every, tracker):
    """Watch SOURCE (webcam index, video file, stream URL or image folder) and report changes.

    Prints one JSON line per event on stdout: a person appears, their mask
    label changes (smoothed over recent frames), or they leave. Ctrl-C or
    SIGTERM stops within a second and flushes the open tracks.
    """
    import signal
    import threading

    from .io import ImageError
    from .live import LiveConfig, run_live
    from .pipeline import MaskDetector

    import cv2

    if threads:
        cv2.setNumThreads(threads)
    if cascade_threshold is None and _resolve_stage(stage, model_path, cnn_path) == "cascade":
        cascade_threshold = LIVE_CASCADE_THRESHOLD
    # No second look at frames without faces: it would cost an empty scene 20 ms a frame.
    detector = MaskDetector(_make_detector(detector_name, templates_dir, dnn_model, dnn_config, verifier, pose),
                            _load_classifier(model_path, stage, cnn_path, cascade_threshold),
                            min_face=min_face, second_look=False)
    config = LiveConfig(detect_every=detect_every, scale=scale, max_fps=max_fps, realtime=realtime,
                        recheck_every=recheck_every, tracker=tracker)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_event(event):
        click.echo(json.dumps(event))
        sys.stdout.flush()

    def on_stats(record):
        click.echo(json.dumps(record), err=True)

    preview = None
    if not headless:
        from .preview import Preview

        preview = Preview()
        why = preview.open()
        if why:
            _log(f"no window: {why}; events only")
            preview = None
    try:
        final = run_live(source, detector, config=config, on_event=on_event,
                         on_stats=on_stats if stats else None,
                         on_frame=preview.show if preview else None, stop=stop)
    except ImageError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        return
    finally:
        if preview:
            preview.close()
    if stats:
        on_stats(final)


def _batches(items, size):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _annotate(image, faces, folder, name, written):
    """Save ``image`` with each face's box, label and score drawn, under a unique name."""
    import re

    import cv2

    from .draw import draw_faces

    folder.mkdir(parents=True, exist_ok=True)
    out = draw_faces(image, faces)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1].rsplit(".", 1)[0]) or "image"
    target, k = folder / f"{stem}.jpg", 1
    while target in written:   # two inputs with the same file name
        target, k = folder / f"{stem}_{k}.jpg", k + 1
    written.add(target)
    cv2.imwrite(str(target), out)


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_detector_option
@_upsample_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@_later_looks_option
def detect(images, detector_name, templates_dir, verifier, pose, dnn_model, dnn_config, upsample, fmt, later_looks):
    """Print the face boxes found in IMAGES (no mask verdict): to check a detector or pre-label data.

    One record per image: ``image`` and ``faces: [{box: [x1, y1, x2, y2], score}]``.
    """
    import csv
    import io as _io

    from .io import ImageError, read_image

    from .pipeline import MaskDetector

    # The same search as predict's (later looks when nothing is found).
    finder = MaskDetector(_make_detector(detector_name, templates_dir, dnn_model, dnn_config, verifier, pose,
                                         upsample=upsample), second_look=later_looks)
    if fmt == "csv":
        click.echo("image,face,x1,y1,x2,y2,score")
    for path in images:
        try:
            faces = finder.find_faces(read_image(path))
        except ImageError as exc:
            _log(f"skipped {exc}")
            continue
        if fmt == "jsonl":
            click.echo(json.dumps({"image": path, "faces": [
                {"box": list(f.box), "score": round(f.score, 4)} for f in faces]}))
        else:
            buf = _io.StringIO()
            csv.writer(buf).writerows([path, k, *f.box, round(f.score, 4)] for k, f in enumerate(faces))
            click.echo(buf.getvalue(), nl=False)


def _demo_images():
    """The astronaut (RGB from scikit-image, turned to BGR), and a copy with a mask drawn on."""
    import cv2
    import numpy as np
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    masked = photo.copy()
    # A light-blue surgical mask from cheek to cheek, over the nose tip, mouth and chin.
    outline = np.array([[180, 124], [200, 117], [220, 120], [240, 117], [260, 124], [258, 152],
                        [242, 172], [220, 180], [198, 172], [182, 152]], np.int32)
    cv2.fillPoly(masked, [outline], (235, 205, 170))
    for y in (135, 148, 161):   # pleats
        cv2.line(masked, (186, y), (254, y), (205, 175, 140), 2)
    cv2.polylines(masked, [outline], True, (190, 160, 130), 2)
    return [("astronaut (scikit-image)", photo), ("astronaut with a drawn mask", masked)]


def _write_records(records, fmt):
    if fmt == "json":
        click.echo(json.dumps(records, indent=1))
    elif fmt == "jsonl":
        for r in records:
            click.echo(json.dumps(r))
    else:
        import csv
        import io as _io
        buf = _io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["image", "face", "x1", "y1", "x2", "y2", "label", "score", "stage"])
        for r in records:
            for k, f in enumerate(r["faces"]):
                writer.writerow([r["image"], k, *f["box"], f["label"], f["score"], f["stage"]])
        click.echo(buf.getvalue(), nl=False)


def _square(gray, size):
    import cv2
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
