"""``maskhog detect``: the face boxes found in images, with no mask verdict."""

from __future__ import annotations

import sys

import click

from .common import detector_options, later_looks_option, log


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@detector_options()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@later_looks_option
def detect(images, detector, fmt, later_looks):
    """Print the face boxes found in IMAGES (no mask verdict): to check a detector or pre-label data.

    One record per image: ``image`` and ``faces: [{box: [x1, y1, x2, y2], score}]``.
    """
    from ..detect import FaceSearch
    from ..io import ImageError, read_image
    from ..io.records import RecordWriter

    # The same search as predict's (later looks when nothing is found).
    search = FaceSearch(detector, second_look=later_looks)
    with RecordWriter(fmt, sys.stdout, ("score",)) as out:
        for path in images:
            try:
                faces = search.find_faces(read_image(path))
            except ImageError as exc:
                log(f"skipped {exc}")
                continue
            out.write({"image": path, "faces": [{"box": list(f.box), "score": round(f.score, 4)}
                                                for f in faces]})
