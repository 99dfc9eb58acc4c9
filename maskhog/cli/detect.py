"""``maskhog detect``: the face boxes found in images, with no mask verdict."""

from __future__ import annotations

import sys

import click

from .common import Summary, detector_options, later_looks_option, stop_on_sigterm


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@detector_options()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@later_looks_option
def detect(images, detector, fmt, later_looks):
    """Print the face boxes found in IMAGES (no mask verdict): to check a detector or pre-label data.

    One record per image: ``image`` and ``faces: [{box: [x1, y1, x2, y2], score}]``,
    written as soon as it is done; unreadable files are reported on stderr and
    skipped, and a summary line ends the run.

    Exit status: 0 done; 1 no image could be read; 2 usage error; 3 some
    images could not be read (the others are done).
    """
    from .. import progress
    from ..batch import run_batch
    from ..detect import FaceSearch
    from ..io.records import RecordWriter

    # The same search as predict's (later looks when nothing is found).
    search = FaceSearch(detector, second_look=later_looks)
    summary = Summary()
    with (stop_on_sigterm(), RecordWriter(fmt, sys.stdout, ("score",)) as out,
          progress.bar(len(images), "detecting") as shown):
        for done in run_batch(((path, path) for path in images), search.find_faces):
            shown.update(1)
            if done.error:
                summary.skip(done.error)
                continue
            out.write({"image": done.name, "faces": [{"box": list(f.box), "score": round(f.score, 4)}
                                                     for f in done.result]})
            summary.add(["found"] * len(done.result))
    progress.say(summary.line())
    if not summary.read:
        raise click.ClickException("no readable image")
    if summary.failed:
        sys.exit(3)
