"""The html report: one folder with ``index.html`` and its PNG figures, nothing fetched from elsewhere."""

from __future__ import annotations

import html
import io
import math
import shutil
from datetime import datetime, timezone
from pathlib import Path

from .plots import class_counts, heat_map, over_time
from .tables import compliance, summarise, write_table

__all__ = ["write_html"]

STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #111; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #999; padding: 0.2em 0.6em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.big { font-size: 2.5em; font-weight: bold; }
img { max-width: 100%; }
pre { font-size: 0.85em; overflow-x: auto; }
.snap { height: 6em; }
"""


def _pct(value):
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def write_html(out, counts, *, by, tz, longest, source, since=None, until=None) -> Path:
    """Write the report into the folder ``out``; return the path of its ``index.html``.

    Parameters
    ----------
    counts : list
        From :func:`.people.person_counts`.
    by : list of str
        The groups of the table in the report.
    longest : list of dict
        From :func:`.people.unmasked_longest`; their snapshots are copied in.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    time_by = "week" if len({q // 86400 for q, *_ in counts}) > 120 else "day"
    over_time(counts, tz, out / "over_time.png", by=time_by)
    heat_map(counts, tz, out / "heat_map.png")
    class_counts(counts, out / "class_counts.png")
    total = summarise({label: n for label, n in _labels(counts).items()})
    places = compliance(counts, ["location"], tz)
    table = io.StringIO()
    write_table(compliance(counts, by, tz), table, by)
    esc = html.escape
    period = f"{since:%Y-%m-%d %H:%M} to " if since else "from the first event to "
    period += f"{until:%Y-%m-%d %H:%M}" if until else "the last"
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>maskhog report</title>"
             f"<style>{STYLE}</style></head><body>",
             f"<h1>Mask compliance</h1><p>{esc(source)}, {esc(period)} ({esc(str(getattr(tz, 'key', tz)))}); "
             f"made {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</p>",
             f"<p><span class='big'>{_pct(total['rate'])}</span> of {total['people']} people wore a mask "
             f"(95% interval {_pct(total['low'])} to {_pct(total['high'])}).</p>",
             "<table><tr><th>location</th><th>people</th><th>with mask</th><th>95% interval</th></tr>"]
    parts += [f"<tr><td>{esc(r['location'])}</td><td>{r['people']}</td><td>{_pct(r['rate'])}</td>"
              f"<td>{_pct(r['low'])} - {_pct(r['high'])}</td></tr>" for r in places]
    parts.append("</table>")
    parts += [f"<h2>{title}</h2><img src='{name}' alt='{title}'>" for title, name in (
        (f"Compliance per {time_by}", "over_time.png"), ("Weekday and hour", "heat_map.png"),
        ("Classes per camera", "class_counts.png"))]
    parts.append(f"<h2>By {' and '.join(by) or 'all'}</h2><pre>{esc(table.getvalue())}</pre>")
    parts.append("<h2>Unmasked longest</h2><table><tr><th>appeared (UTC)</th><th>location</th><th>camera</th>"
                 "<th>track</th><th>seconds unmasked</th><th>snapshot</th></tr>")
    for person in longest:
        snap = ""
        if person["snapshot"] and Path(person["snapshot"]).is_file():
            (out / "snapshots").mkdir(exist_ok=True)
            name = Path(person["snapshot"]).name
            shutil.copyfile(person["snapshot"], out / "snapshots" / name)
            snap = f"<img class='snap' src='snapshots/{esc(name)}' alt='snapshot (faces pixelated)'>"
        parts.append(f"<tr><td>{esc(person['time'])}</td><td>{esc(person['location'])}</td>"
                     f"<td>{esc(person['camera'])}</td><td>{person['track_id']}</td>"
                     f"<td>{person['seconds']:.1f}</td><td>{snap}</td></tr>")
    parts.append("</table><p>A person is one track, counted when and where they appeared, with their last "
                 "label; only with_mask is compliant.</p></body></html>")
    index = out / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index


def _labels(counts):
    totals: dict = {}
    for _, _, _, label, n in counts:
        totals[label] = totals.get(label, 0) + n
    return totals
