"""Time buckets in a time zone: UTC quarter-hours into local hours, days, weeks and weekdays.

The database groups by UTC quarter-hour (:mod:`.people`); here each
quarter-hour's start becomes a local time with :mod:`zoneinfo`, which knows
each zone's daylight-saving rules. A spring-forward day has 23 hours and an
autumn one 25: its two 02:00 hours are told apart by their UTC offset.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["TIME_BUCKETS", "bucket", "order", "local_zone", "zone", "parse_moment", "day_start"]

TIME_BUCKETS = ("hour", "day", "week")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def zone(name: str | None) -> tzinfo:
    """The time zone called ``name`` (IANA, ``Europe/Berlin``), or the machine's for ``None``
    or ``'local'``.

    Raises
    ------
    ValueError
        An unknown name.
    """
    if name in (None, "", "local"):
        return local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name like Europe/Berlin, UTC or local)") from None


def local_zone() -> tzinfo:
    """The machine's time zone with its daylight-saving rules: ``$TZ``, else /etc/localtime.

    ``datetime.now().astimezone().tzinfo`` would be today's fixed offset, wrong
    for half of the year's days in a zone with summer time.
    """
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    localtime = Path("/etc/localtime")
    if localtime.exists():
        match = re.search(r"zoneinfo/(.+)$", str(localtime.resolve()))
        if match:
            try:
                return ZoneInfo(match.group(1))
            except (ZoneInfoNotFoundError, ValueError):
                pass
        with open(localtime, "rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    return timezone.utc


@lru_cache(maxsize=200_000)
def _local(quarter: int, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(quarter, tz)


def bucket(quarter: int, by: str, tz: tzinfo) -> str:
    """The label of the ``by`` bucket (hour, day, week, weekday or hour_of_day) that the UTC
    quarter-hour starting at ``quarter`` (seconds since 1970) falls in, in ``tz``.

    Labels: ``2026-10-25T02:00+01:00`` (an hour, with its offset),
    ``2026-10-25`` (a day), ``2026-W43`` (an ISO week, Monday first), ``Mon``
    (a weekday), ``07`` (an hour of the day); :func:`order` sorts them in time order.
    """
    moment = _local(int(quarter), tz)
    if by == "hour":
        offset = moment.strftime("%z")
        return f"{moment:%Y-%m-%dT%H}:00{offset[:3]}:{offset[3:]}"
    if by == "day":
        return moment.date().isoformat()
    if by == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if by == "weekday":
        return WEEKDAYS[moment.weekday()]
    if by == "hour_of_day":
        return f"{moment.hour:02d}"
    raise ValueError(f"unknown time bucket {by!r}")


def order(by: str, label: str):
    """A sort key that puts ``by`` bucket labels in time order (an autumn night's second
    02:00 after its first, whose offset sorts after it as text)."""
    if by == "hour":
        return datetime.fromisoformat(label).timestamp()
    if by == "weekday":
        return WEEKDAYS.index(label)
    return label


_RELATIVE = re.compile(r"(\d+)\s*([hdw])")


def parse_moment(text: str, tz: tzinfo, now: datetime | None = None) -> datetime:
    """A moment from ``--since`` / ``--until``: an ISO date or time (in ``tz`` unless it has an
    offset or ``Z``), ``today``, ``yesterday``, or ``7d`` / ``24h`` / ``2w`` ago.

    Raises
    ------
    ValueError
        Anything else.
    """
    now = now or datetime.now(timezone.utc)
    text = text.strip()
    if text in ("today", "yesterday"):
        today = now.astimezone(tz).date()
        return day_start(today - timedelta(days=text == "yesterday"), tz)
    match = _RELATIVE.fullmatch(text)
    if match:
        n, unit = int(match.group(1)), match.group(2)
        return now - timedelta(hours=n) * {"h": 1, "d": 24, "w": 24 * 7}[unit]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time: use 2026-12-01, 2026-12-01T08:00, today, 7d or 24h") from None
    if moment.tzinfo is None:
        if len(text) == 10:
            return day_start(moment.date(), tz)
        moment = moment.replace(tzinfo=tz)
    return moment


def day_start(day: date, tz: tzinfo) -> datetime:
    """The first moment of a local day."""
    return datetime(day.year, day.month, day.day, tzinfo=tz)
