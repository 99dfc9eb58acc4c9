"""``maskhog predict``: find the faces in images and videos and say whether each wears a mask."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from .common import (Summary, classifier_options, cluster_option, detector_options, later_looks_option, log,
                     min_face_option, stop_on_sigterm)


@click.command()
@click.argument("inputs", nargs=-1)
@click.option("--demo", is_flag=True,
              help="Use scikit-image's bundled astronaut photo, as is and with a mask drawn on.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv"]), default="jsonl",
              show_default=True, help="Output format on stdout.")
@detector_options()
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False),
              help="Write a copy of each image, and of each video (.mkv, every frame, the faces of "
                   "the frames looked at held between them), with boxes and labels drawn into this "
                   "folder.")
@click.option("--fail-on", "fail_on", multiple=True, metavar="LABEL",
              help="Exit with status 1 if any face has this label (e.g. no_mask); repeatable.")
@click.option("--every", default=30, show_default=True, type=click.IntRange(1),
              help="In video files, look at every N-th frame.")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes; each builds the detector once and reads its own images.")
@cluster_option
@click.option("--send-images", is_flag=True,
              help="With --cluster: read each image here and send its contents, for workers that do "
                   "not see these paths (no shared storage).")
@classifier_options()
@min_face_option
@later_looks_option
def predict(inputs, demo, fmt, detector, annotate_dir, fail_on, every, jobs, cluster, send_images, classifier,
            min_face, later_looks):
    """Find the faces in INPUTS and say whether each wears a mask.

    INPUTS are image files, video files (every N-th frame), folders (searched
    recursively), glob patterns ('shots/*.jpg'), or '-' to read one path per
    line from stdin. One record per image (a video frame is named
    'clip.mp4#frame=120'), written as soon as it is done: the image as given,
    and for each face its box [x1, y1, x2, y2], label and score (the label's
    probability). Unreadable files are reported on stderr and skipped; a
    summary line ends the run.

    Exit status: 0 done; 1 a --fail-on label was seen, or no input could be
    read; 2 usage error; 3 some inputs could not be read (the others are done).
    """
    from .. import progress
    from ..batch import run_batch
    from ..io import VIDEO_SUFFIXES, ImageError, expand_inputs, read_bytes, video_frames
    from ..io.demo import demo_images
    from ..io.records import RecordWriter
    from ..labels import LabelError, canonical_label
    from ..pipeline import MaskDetector

    try:
        fail_labels = {canonical_label(name) for name in fail_on}
    except LabelError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None
    paths = expand_inputs(inputs, stdin=sys.stdin)
    if not paths and not demo:
        raise click.UsageError("give image files, folders, patterns or '-', or --demo")
    if cluster is not None and jobs > 1:
        raise click.UsageError("--jobs runs processes here, --cluster on a cluster's workers: give one")
    if send_images and cluster is None:
        raise click.UsageError("--send-images sends the images to a cluster's workers: give --cluster too")
    demos = demo_images() if demo else []
    finder = MaskDetector(detector, classifier, min_face=min_face, second_look=later_looks)

    def sources():
        """(name, source) in input order: image paths as they are (a worker reads them) or,
        with --send-images, their contents; video frames decoded here (only this process
        has the open video)."""
        yield from demos
        for path in paths:
            if Path(path).suffix.lower() not in VIDEO_SUFFIXES:
                try:
                    yield path, read_bytes(path) if send_images else path
                except ImageError as exc:
                    yield path, exc
                continue
            try:
                for k, frame in video_frames(path, every=every):
                    yield f"{path}#frame={k}", frame
            except ImageError as exc:
                yield path, exc

    summary = Summary()
    inputs, last = len(paths) + len(demos), None
    with (stop_on_sigterm(), RecordWriter(fmt, sys.stdout, ("label", "score", "stage")) as out,
          progress.bar(inputs, "predicting") as shown, Annotations(annotate_dir) as annotations):
        for done in run_batch(sources(), finder.detect, jobs=jobs, images=bool(annotate_dir),
                              cluster=cluster):
            base = done.name.split("#frame=")[0]   # a video is one input, however many frames
            if base != last:
                shown.update(1)
                annotations.video_done()
                last = base
            if done.error:
                summary.skip(done.error)
                continue
            out.write({"image": done.name, "faces": [f.to_dict() for f in done.result]})
            summary.add(f.label for f in done.result)
            annotations.add(done)
    progress.say(summary.line())
    if not summary.read:
        raise click.ClickException("no readable image")
    if summary.labels.keys() & fail_labels:
        log(f"failing: found {', '.join(sorted(summary.labels.keys() & fail_labels))}")
        sys.exit(1)
    if summary.failed:
        sys.exit(3)


class Annotations:
    """Annotated copies in ``folder`` (none when it is None): an image per image, a video per video."""

    def __init__(self, folder):
        self.folder = Path(folder) if folder else None
        self.written = set()
        self.video = None   # the AnnotatedVideo being written, while its frames come

    def add(self, done) -> None:
        """One result of the batch: an image is written at once, a video frame goes to its video."""
        if self.folder is None:
            return
        import cv2

        from ..io import ImageError
        from ..io.draw import draw_faces
        from ..io.video_out import AnnotatedVideo

        source, _, frame = done.name.partition("#frame=")
        try:
            if not frame:
                target = self._target(source, ".jpg")
                if not cv2.imwrite(str(target), draw_faces(done.image, done.result)):
                    raise ImageError(f"{target}: could not write the annotated image")
                return
            if self.video is None:
                self.video = AnnotatedVideo(source, self._target(source, ".mkv"))
            self.video.show(int(frame), done.result)
        except (ImageError, OSError) as exc:
            raise click.ClickException(f"--annotate: {exc}") from None

    def video_done(self, finish: bool = True) -> None:
        """The video's last frame looked at has come: write the rest of it (``finish``) and close."""
        if self.video is not None:
            video, self.video = self.video, None
            video.close(finish=finish)
            log(f"{video.path}: annotated video written" + ("" if finish else ", up to where the run stopped"))

    def _target(self, name: str, suffix: str) -> Path:
        """A file name in the folder from the input's, unique when two inputs share a name."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1].rsplit(".", 1)[0]) or "image"
        target, k = self.folder / f"{stem}{suffix}", 1
        while target in self.written:
            target, k = self.folder / f"{stem}_{k}{suffix}", k + 1
        self.written.add(target)
        return target

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        self.video_done(finish=kind is None)   # a stopped run does not read on to the video's end
