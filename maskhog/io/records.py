"""Where results go: records of faces as JSON lines, one JSON document or CSV rows.

A record is ``{"image": name, "faces": [{"box": [x1, y1, x2, y2], ...}]}``.
JSON lines and CSV are written as each record comes, so an interrupted run
keeps what it did; a JSON document is written whole at the end. Data goes to
the stream given (stdout for the command line); logs never do.
"""

from __future__ import annotations

import csv
import json

__all__ = ["FORMATS", "RecordWriter"]

#: The output formats.
FORMATS = ("jsonl", "json", "csv")


class RecordWriter:
    """Write face records to a text stream ``out`` in format ``fmt`` (one of :data:`FORMATS`).

    CSV has one row per face: ``image, face, x1, y1, x2, y2``, then the face's
    entries named by ``columns`` (e.g. ``("label", "score", "stage")``). Use as a
    context manager, or call :meth:`close` at the end.
    """

    def __init__(self, fmt: str, out, columns=("score",)):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        self.fmt, self.out, self.columns = fmt, out, tuple(columns)
        self.kept: list = []   # the records of a JSON document, until the end
        if fmt == "csv":
            # One line ending for the whole output: the csv module's default is "\r\n",
            # which mixed with the "\n" of everything else on a text stream.
            self.csv = csv.writer(out, lineterminator="\n")
            self.csv.writerow(["image", "face", "x1", "y1", "x2", "y2", *self.columns])

    def write(self, record: dict) -> None:
        if self.fmt == "jsonl":
            self.out.write(json.dumps(record) + "\n")
        elif self.fmt == "csv":
            for k, face in enumerate(record["faces"]):
                self.csv.writerow([record["image"], k, *face["box"], *(face[c] for c in self.columns)])
        else:
            self.kept.append(record)
        self.out.flush()

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write(json.dumps(self.kept, indent=1) + "\n")
            self.out.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
