"""From events to people, in SQL: the counts a report and the dashboard are made of.

Counting is done by the database (window functions and GROUP BY), so a
million events are a few seconds, not a Python loop over every row. Times
are grouped by UTC quarter-hour: every time zone in use is a whole number of
quarter-hours from UTC, so :mod:`.buckets` can put each quarter-hour into the
right local hour, day or week afterwards, daylight-saving days included.
"""

from __future__ import annotations

from datetime import datetime

from .store import Store

__all__ = ["QUARTER", "person_counts", "unmasked_longest", "recent_events", "STATE_EVENTS"]

QUARTER = 900   # seconds
STATE_EVENTS = ("appeared", "changed", "left")


def _range(store: Store, since: datetime | None, until: datetime | None, *, after: bool = False):
    """A WHERE clause piece and its parameters for since <= time < until (since < time if ``after``)."""
    sql, params = [], []
    if since is not None:
        sql.append(f'"time" {">" if after else ">="} ?')
        params.append(store.time(since))
    if until is not None:
        sql.append('"time" < ?')
        params.append(store.time(until))
    return "".join(f" AND {s}" for s in sql), params


def _states(where: str, ends: bool = False) -> str:
    """SQL for the state events, each with ``person``: the id of the ``appeared`` it belongs to
    (the latest one of the same camera and track), and with ``ends``: the time of the next
    state event of that track, if any."""
    lead = ', LEAD("time") OVER (PARTITION BY camera, track_id ORDER BY id) AS ends' if ends else ""
    return f"""
        SELECT id, "time", camera, track_id, event, label, snapshot,
               MAX(CASE WHEN event = 'appeared' THEN id END)
                   OVER (PARTITION BY camera, track_id ORDER BY id) AS person{lead}
        FROM events
        WHERE event IN ('appeared', 'changed', 'left'){where}"""


def person_counts(store: Store, since: datetime | None = None, until: datetime | None = None) -> list[tuple]:
    """People per UTC quarter-hour, location, camera and class.

    Returns
    -------
    list of (quarter, location, camera, label, people)
        ``quarter``: seconds since 1970 of the quarter-hour the person appeared
        in, a multiple of :data:`QUARTER`; ``label``: the person's last label.
    """
    where, params = _range(store, since, until)
    return store.rows(f"""
        WITH states AS ({_states(where)}),
             last AS (SELECT person, MAX(id) AS last_id FROM states WHERE person IS NOT NULL GROUP BY person)
        SELECT ({store.epoch('a."time"')} / {QUARTER}) * {QUARTER} AS quarter,
               a.location, a.camera, s.label, COUNT(*)
        FROM last JOIN events a ON a.id = last.person JOIN events s ON s.id = last.last_id
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""", params)


def unmasked_longest(store: Store, since=None, until=None, limit: int = 10) -> list[dict]:
    """The people who were seen unmasked (``without_mask`` or ``incorrect_mask``) longest.

    A state lasts from its event to the track's next state event; a person
    still in view at the end of the range counts up to their last event.

    Returns
    -------
    list of dict
        ``time`` (appeared, UTC text), ``location``, ``camera``, ``track_id``,
        ``seconds`` unmasked and ``snapshot`` (an unmasked moment's, or ``None``).
    """
    where, params = _range(store, since, until)
    rows = store.rows(f"""
        WITH states AS ({_states(where, ends=True)})
        SELECT s.person, {store.text_time('a."time"')}, a.location, a.camera, a.track_id,
               SUM({store.seconds_between('s."time"', 's.ends')}) AS seconds,
               MAX(s.snapshot)
        FROM states s JOIN events a ON a.id = s.person
        WHERE s.label IN ('without_mask', 'incorrect_mask') AND s.event <> 'left' AND s.ends IS NOT NULL
        GROUP BY s.person, a."time", a.location, a.camera, a.track_id
        ORDER BY seconds DESC, s.person LIMIT ?""", [*params, limit])
    return [{"time": t, "location": loc, "camera": cam, "track_id": track, "seconds": round(float(sec), 3),
             "snapshot": snap} for _, t, loc, cam, track, sec, snap in rows]


def recent_events(store: Store, kinds=None, since: datetime | None = None, limit: int = 100) -> list[dict]:
    """The newest ``limit`` events after ``since`` (of ``kinds``, if given), oldest first.

    In time order, not the table's: several cameras' events, queued while a
    service was away, reach a shared database late and out of time order.
    """
    # Strictly after: a client asks again with the last time it has.
    where, params = _range(store, since, None, after=True)
    if kinds:
        where += f" AND event IN ({', '.join('?' * len(kinds))})"
        params += list(kinds)
    rows = store.rows(f"""
        SELECT id, event_id, {store.text_time('"time"')}, camera, location, track_id, event, label, score, snapshot
        FROM events WHERE 1 = 1{where} ORDER BY "time" DESC, id DESC LIMIT ?""", [*params, limit])
    names = ("event_id", "time", "camera", "location", "track_id", "event", "label", "score", "snapshot")
    return [dict(zip(names, r[1:])) for r in reversed(rows)]
