"""``maskhog report``: compliance by time and place, from an events database."""

from __future__ import annotations

import sys

import click

from .common import log

__all__ = ["report", "report_window"]

_BY = ("hour", "day", "week", "weekday", "hour_of_day", "location", "camera")


def report_window(tz_name, since, until):
    """The time zone and the since/until moments from the options, or a usage error."""
    from ..report.buckets import parse_moment, zone

    try:
        tz = zone(tz_name)
        return tz, *(None if text is None else parse_moment(text, tz) for text in (since, until))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def tz_option(command):
    return click.option("--tz", default="local", show_default=True,
                        help="Time zone of the hours, days and weeks (an IANA name such as Europe/Berlin, "
                             "UTC, or local); events are kept in UTC.")(command)


@click.command()
@click.argument("events")
@click.option("--by", "by", multiple=True, type=click.Choice(_BY),
              help="Group by this (repeatable: --by day --by location); none: one row for all.")
@click.option("--since", help="From this time: 2026-12-01, 2026-12-01T08:00 (in --tz), today, 7d, 24h.")
@click.option("--until", help="Up to (not including) this time, the same forms as --since.")
@tz_option
@click.option("--format", "fmt", type=click.Choice(("table", "csv", "json", "html")), default="table",
              show_default=True, help="table, csv and json go to stdout; html is a folder (--out).")
@click.option("--out", type=click.Path(file_okay=False), help="The folder of an html report (made if missing).")
def report(events, by, since, until, tz, fmt, out):
    """Compliance over time and place from EVENTS (a SQLite file or postgresql://...).

    Counts people, not frames: a person is one track from its `appeared` event,
    counted where and when they appeared, with their last label. Compliance is
    the share of people with_mask (incorrect_mask is not compliant), with a 95%
    Wilson interval; with a time group, `change` is the rate minus the
    previous period's for the same place.
    """
    from ..report import people
    from ..report.store import StoreError, open_store
    from ..report.tables import compliance, write_csv, write_json, write_table

    if fmt == "html" and not out:
        raise click.UsageError("--format html writes a folder: add --out DIR")
    if out and fmt != "html":
        raise click.UsageError("--out is for --format html")
    tz, since_at, until_at = report_window(tz, since, until)
    by = list(dict.fromkeys(by))
    try:
        with open_store(events) as store:
            counts = people.person_counts(store, since_at, until_at)
            if fmt == "html":
                try:
                    import matplotlib  # noqa: F401
                except ImportError:
                    raise click.ClickException("html reports need matplotlib: pip install 'maskhog[report]'") \
                        from None
                from ..report.html import write_html

                longest = people.unmasked_longest(store, since_at, until_at)
                index = write_html(out, counts, by=by, tz=tz, longest=longest, source=store.name,
                                   since=since_at, until=until_at)
                log(f"report written: {index}")
                return
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    rows = compliance(counts, by, tz)
    if not rows:
        log("no people seen" + (f" from {since}" if since else "") + (f" until {until}" if until else ""))
    {"table": write_table, "csv": write_csv}.get(fmt, lambda r, f, by: write_json(r, f))(rows, sys.stdout, by)
