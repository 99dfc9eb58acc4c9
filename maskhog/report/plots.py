"""The report's figures, as PNG: readable in black and white and for colour-blind readers.

Colours are the Okabe-Ito palette (told apart with any of the common colour
vision deficiencies) and every series also has its own marker, line style or
hatching, so a grey printout keeps them apart; the heat map uses cividis,
whose lightness rises evenly, and prints each cell's rate in it.
"""

from __future__ import annotations

import math
from collections import defaultdict

from ..labels import CLASSES
from .tables import compliance

__all__ = ["over_time", "heat_map", "class_counts", "OKABE_ITO"]

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINES = ("-", "--", "-.", ":")
CLASS_STYLE = {"with_mask": ("#009E73", ""), "without_mask": ("#D55E00", "//"), "incorrect_mask": ("#E69F00", "..")}


def _figure(width=8.0, height=4.0):
    import matplotlib

    matplotlib.use("Agg")   # files only: no display is needed or wanted
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    return plt, fig, ax


def _save(plt, fig, path):
    fig.savefig(path, bbox_inches="tight", format="png")   # "tight": a legend outside the axes is kept
    plt.close(fig)
    return path


def over_time(counts, tz, path, by="day"):
    """Compliance per ``by`` (day or week) for each location, with its 95% interval as a band."""
    plt, fig, ax = _figure()
    rows = compliance(counts, [by, "location"], tz)
    series = defaultdict(list)
    for r in rows:
        series[r["location"]].append(r)
    for i, (location, points) in enumerate(sorted(series.items())):
        x = list(range(len(points)))
        labels = [p[by] for p in points]
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        ax.fill_between(x, [100 * p["low"] for p in points], [100 * p["high"] for p in points],
                        color=colour, alpha=0.15, linewidth=0)
        ax.plot(x, [100 * p["rate"] for p in points], color=colour, marker=MARKERS[i % len(MARKERS)],
                linestyle=LINES[i % len(LINES)], markersize=4, label=location)
    buckets = sorted({r[by] for r in rows})
    if buckets:
        step = max(1, len(buckets) // 10)
        ax.set_xticks(range(0, len(buckets), step), buckets[::step], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("people with a mask (%)")
    ax.set_title(f"Compliance per {by} and location (bands: 95% interval)")
    ax.grid(axis="y", color="#cccccc", linewidth=0.5)
    if series:
        ax.legend(fontsize=8, loc="lower left")
    return _save(plt, fig, path)


def heat_map(counts, tz, path):
    """Compliance by hour of day and weekday, each cell's rate written in it (blank: nobody)."""
    import numpy as np

    from .buckets import WEEKDAYS

    plt, fig, ax = _figure(9.0, 3.6)
    rows = compliance(counts, ["weekday", "hour_of_day"], tz)
    grid = np.full((7, 24), np.nan)
    for r in rows:
        grid[WEEKDAYS.index(r["weekday"]), int(r["hour_of_day"])] = 100 * r["rate"]
    image = ax.imshow(grid, cmap="cividis", vmin=0, vmax=100, aspect="auto")
    for (day, hour), value in np.ndenumerate(grid):
        if not math.isnan(value):
            ax.text(hour, day, f"{value:.0f}", ha="center", va="center", fontsize=6,
                    color="black" if value > 55 else "white")
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)], fontsize=7)
    ax.set_yticks(range(7), WEEKDAYS, fontsize=8)
    ax.set_xlabel(f"hour of day ({getattr(tz, 'key', None) or tz})")
    ax.set_title("Compliance (%) by weekday and hour")
    fig.colorbar(image, ax=ax, label="%", fraction=0.03)
    return _save(plt, fig, path)


def class_counts(counts, path):
    """People per class on each camera, as stacked bars with a hatching per class."""
    plt, fig, ax = _figure(8.0, max(2.0, 0.45 * len({c[2] for c in counts}) + 1.2))
    per_camera = defaultdict(lambda: defaultdict(int))
    for _, _, camera, label, n in counts:
        per_camera[camera][label] += n
    cameras = sorted(per_camera)
    left = [0] * len(cameras)
    for label in CLASSES:
        values = [per_camera[c][label] for c in cameras]
        colour, hatch = CLASS_STYLE[label]
        ax.barh(cameras, values, left=left, color=colour, hatch=hatch, edgecolor="black", linewidth=0.5,
                label=label.replace("_", " "))
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlabel("people")
    ax.set_title("People per class and camera")
    ax.invert_yaxis()
    if cameras:
        # Under the axes: inside, it would hide the last bars.
        ax.legend(fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    return _save(plt, fig, path)
