"""Compliance rows: people counted by time bucket and place, with rates, intervals and change.

:func:`compliance` adds up :func:`.people.person_counts` into the buckets a
report asks for; :func:`write_table`, :func:`write_csv` and :func:`write_json`
print them.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict

from ..labels import CLASSES as LABELS
from .buckets import TIME_BUCKETS, bucket, order
from .stats import wilson

__all__ = ["GROUPS", "compliance", "summarise", "write_table", "write_csv", "write_json"]

GROUPS = ("hour", "day", "week", "weekday", "hour_of_day", "location", "camera")


def summarise(counts: dict) -> dict:
    """People, per class, and the compliance rate with its 95% interval, from label counts."""
    people = sum(counts.values())
    masked = counts.get("with_mask", 0)
    low, high = wilson(masked, people)
    return {"people": people, **{label: counts.get(label, 0) for label in LABELS},
            "rate": masked / people if people else math.nan, "low": low, "high": high}


def compliance(counts, by=(), tz=None) -> list[dict]:
    """Rows of people and compliance, one per combination of the ``by`` groups.

    Parameters
    ----------
    counts : list of (quarter, location, camera, label, people)
        From :func:`.people.person_counts`.
    by : sequence of str
        Among :data:`GROUPS`; none gives one row for everything.
    tz : tzinfo
        For the time buckets.

    Returns
    -------
    list of dict
        The ``by`` keys, then ``people``, a count per label, ``rate``, ``low``,
        ``high``, and where a time bucket is among ``by``, ``change``: the rate
        minus that of the previous bucket of the same place (``None`` for the first).
    """
    unknown = [b for b in by if b not in GROUPS]
    if unknown:
        raise ValueError(f"cannot group by {unknown[0]!r}: use {', '.join(GROUPS)}")
    groups: dict = defaultdict(lambda: defaultdict(int))
    for quarter, location, camera, label, n in counts:
        place = {"location": location, "camera": camera}
        key = tuple(place[b] if b in place else bucket(quarter, b, tz) for b in by)
        groups[key][label] += n
    in_order = sorted(groups.items(), key=lambda item: tuple(order(b, k) for b, k in zip(by, item[0])))
    rows = [{**dict(zip(by, key)), **summarise(labels)} for key, labels in in_order]
    time_keys = [b for b in by if b in TIME_BUCKETS]
    if time_keys:
        places = [b for b in by if b not in TIME_BUCKETS]
        previous: dict = {}
        for row in sorted(rows, key=lambda r: tuple(order(b, r[b]) for b in time_keys)):
            place = tuple(row[b] for b in places)
            before = previous.get(place)
            row["change"] = None if before is None else row["rate"] - before
            previous[place] = row["rate"]
    return rows


def _number(value, digits=3):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)


def write_json(rows, file) -> None:
    """The rows as one JSON array (rates as fractions, NaN as null)."""
    clean = [{k: _number(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in rows]
    json.dump(clean, file, indent=1)
    file.write("\n")


def write_csv(rows, file, by=()) -> None:
    """The rows as CSV with a header line (a header alone when there are none)."""
    names = list(rows[0]) if rows else [*by, "people", *LABELS, "rate", "low", "high"]
    writer = csv.DictWriter(file, names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if _number(v, 4) is None else _number(v, 4)) if isinstance(v, float) else v
                         for k, v in row.items()})


def _percent(value) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def write_table(rows, file, by=()) -> None:
    """The rows as an aligned text table: rates in percent with their 95% interval."""
    head = [*by, "people", *LABELS, "compliance", "95% interval"]
    changes = any("change" in r for r in rows)
    if changes:
        head.append("change")
    lines = [head]
    for r in rows:
        line = [str(r[b]) for b in by] + [str(r["people"])] + [str(r[label]) for label in LABELS]
        line += [_percent(r["rate"]), f"{_percent(r['low'])} - {_percent(r['high'])}"]
        if changes:
            change = r.get("change")
            line.append("" if change is None else f"{100 * change:+.1f} pt")
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        cells = [cell.ljust(w) if i < len(by) else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))]
        file.write("  ".join(cells).rstrip() + "\n")
