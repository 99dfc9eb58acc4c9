"""`maskhog report`: people, rates and intervals, time zones and daylight-saving days, on events
databases written by the real SQLite sink (and PostgreSQL's, under .ci/services)."""

import json
import math
import os
import sqlite3
import sys
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from maskhog.cli import main
from maskhog.events import make_event, open_sink
from maskhog.report import open_store, people, wilson
from maskhog.report.buckets import bucket, parse_moment
from maskhog.report.store import StoreError
from maskhog.report.tables import compliance

BERLIN = ZoneInfo("Europe/Berlin")


def at(text, seconds=0.0):
    """UTC ISO text with milliseconds, ``seconds`` after ``text``."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def person(sink, start, labels, *, track, camera="door-1", location="door", leave=True, snapshot=None):
    """One person's events as the live loop writes them: appeared with the first label, changed
    for each next one (a second apart), left with the last (unless still in view)."""
    t = 0.0
    for i, label in enumerate(labels):
        sink.write({**make_event("appeared" if i == 0 else "changed", track_id=track, label=label, score=0.9,
                                 box=(0, 0, 80, 90), camera=camera, location=location, time=at(start, t)),
                    "snapshot": snapshot if label != "with_mask" else None})
        t += 10.0
    if leave:
        sink.write(make_event("left", track_id=track, label=labels[-1], score=0.9, box=(0, 0, 80, 90),
                              camera=camera, location=location, time=at(start, t)))


def decision(sink, kind, start, *, track, camera="door-1", location="door"):
    sink.write(make_event(kind, track_id=track, label="without_mask", score=0.9, box=(0, 0, 80, 90),
                          camera=camera, location=location, time=at(start, 1)))


def seed(sink):
    """Ten people at 'door' on 2026-12-01 (7 compliant) and four at 'lab' on 2026-12-02 (1)."""
    # door: one run, tracks 1-10.
    for track in range(1, 6):
        person(sink, f"2026-12-01T09:0{track}:00Z", ["with_mask"], track=track)
    # Unmasked at first, masked when they left: their last label counts.
    person(sink, "2026-12-01T10:00:00Z", ["without_mask", "with_mask"], track=6)
    # Still in view when the run ended (no 'left'): counted with the label they have.
    person(sink, "2026-12-01T10:05:00Z", ["with_mask"], track=7, leave=False)
    person(sink, "2026-12-01T11:00:00Z", ["with_mask", "without_mask"], track=8)
    decision(sink, "deny", "2026-12-01T11:00:00Z", track=8)
    decision(sink, "alert", "2026-12-01T11:00:00Z", track=8)
    person(sink, "2026-12-01T11:30:00Z", ["without_mask", "without_mask"], track=9)
    person(sink, "2026-12-01T12:00:00Z", ["incorrect_mask"], track=10)
    # lab, the next day: a new run numbers its tracks from 1 again; each is a new person.
    person(sink, "2026-12-02T08:00:00Z", ["with_mask"], track=1, camera="lab-1", location="lab")
    for track in (2, 3, 4):
        person(sink, f"2026-12-02T08:1{track}:00Z", ["without_mask"], track=track, camera="lab-1", location="lab")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "events.db"
    sink = open_sink(str(path))
    seed(sink)
    sink.close()
    return path


def report(*args):
    result = CliRunner().invoke(main, ["report", *map(str, args)])
    return result


def test_wilson_interval_known_values():
    # Newcombe (1998), Statistics in Medicine 17, table I: 81/263 -> 0.2553 to 0.3662.
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    assert wilson(0, 10)[0] == 0.0 and 0 < wilson(0, 10)[1] < 0.31
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    assert all(math.isnan(v) for v in wilson(0, 0))


def test_people_are_tracks_with_their_last_label_and_decisions_are_not_people(db):
    with open_store(str(db)) as store:
        rows = compliance(people.person_counts(store), ["location"], ZoneInfo("UTC"))
    door, lab = rows
    assert (door["location"], door["people"], door["with_mask"], door["without_mask"], door["incorrect_mask"]) == \
        ("door", 10, 7, 2, 1)
    assert door["rate"] == 0.7
    assert (door["low"], door["high"]) == wilson(7, 10)
    assert (lab["people"], lab["with_mask"], lab["without_mask"]) == (4, 1, 3)


def test_report_json_by_day_and_location_in_a_time_zone(db):
    result = report(db, "--by", "day", "--by", "location", "--tz", "Europe/Berlin", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["day"], r["location"], r["people"], r["rate"]) for r in rows] == [
        ("2026-12-01", "door", 10, 0.7), ("2026-12-02", "lab", 4, 0.25)]
    assert rows[0]["change"] is None and rows[1]["change"] is None   # each place's first day
    assert rows[0]["low"] == round(wilson(7, 10)[0], 4)


def test_since_until_and_an_empty_range(db):
    result = report(db, "--since", "2026-12-02", "--tz", "UTC", "--format", "json")
    assert [r["people"] for r in json.loads(result.stdout)] == [4]
    result = report(db, "--since", "2026-12-01T10:00Z", "--until", "2026-12-01T11:00Z", "--format", "json")
    assert [r["people"] for r in json.loads(result.stdout)] == [2]   # tracks 6 and 7
    result = report(db, "--since", "2027-01-01", "--by", "day", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert "no people seen from 2027-01-01" in result.stderr
    table = report(db, "--since", "2027-01-01", "--by", "location")
    assert table.exit_code == 0 and table.stdout.split()[:2] == ["location", "people"]
    csv = report(db, "--since", "2027-01-01", "--by", "day", "--format", "csv")
    assert csv.stdout.strip() == "day,people,with_mask,without_mask,incorrect_mask,rate,low,high"


def test_table_shows_rates_intervals_and_change(db):
    result = report(db, "--by", "week", "--tz", "UTC")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["week", "people"]
    assert lines[1].split()[:2] == ["2026-W49", "14"]   # Tue 1 and Wed 2 December 2026: one ISO week
    assert "57.1%" in lines[1]   # 8 of 14
    low, high = wilson(8, 14)
    assert f"{100 * low:.1f}% - {100 * high:.1f}%" in lines[1]


def test_change_from_one_day_to_the_next(tmp_path):
    path = tmp_path / "e.db"
    sink = open_sink(str(path))
    for track, label in enumerate(["with_mask", "without_mask"], 1):              # day 1: 1 of 2
        person(sink, f"2026-11-02T09:0{track}:00Z", [label], track=track)
    for track, label in enumerate(["with_mask"] * 3 + ["without_mask"], 1):      # day 2: 3 of 4
        person(sink, f"2026-11-03T09:0{track}:00Z", [label], track=track)
    sink.close()
    rows = json.loads(report(path, "--by", "day", "--tz", "UTC", "--format", "json").stdout)
    assert [(r["day"], r["rate"], r["change"]) for r in rows] == [("2026-11-02", 0.5, None),
                                                                 ("2026-11-03", 0.75, 0.25)]


def test_daylight_saving_days_and_a_half_hour_zone(tmp_path):
    path = tmp_path / "dst.db"
    sink = open_sink(str(path))
    starts = {
        # Berlin, 25 October 2026: 02:00-03:00 happens twice (CEST, then CET).
        "2026-10-25T00:30:00Z": "with_mask", "2026-10-25T01:30:00Z": "without_mask",
        # Berlin, 29 March 2026: 02:00 jumps to 03:00. 00:30 local on the 29th is 23:30Z on the 28th;
        # 00:30 local on the 30th is 22:30Z on the 29th (the day had 23 hours).
        "2026-03-28T22:59:00Z": "with_mask", "2026-03-28T23:30:00Z": "with_mask",
        "2026-03-29T00:59:00Z": "with_mask", "2026-03-29T01:00:00Z": "without_mask",
        "2026-03-29T21:59:00Z": "with_mask", "2026-03-29T22:30:00Z": "with_mask",
        # Kolkata is UTC+05:30: 18:29Z is 23:59 there, 18:31Z the next day's 00:01.
        "2026-06-01T18:29:00Z": "with_mask", "2026-06-01T18:31:00Z": "with_mask",
    }
    for track, (start, label) in enumerate(starts.items(), 1):
        person(sink, start, [label], track=track)
    sink.close()
    hours = json.loads(report(path, "--by", "hour", "--tz", "Europe/Berlin", "--since", "2026-10-24",
                              "--until", "2026-10-26", "--format", "json").stdout)
    assert [(r["hour"], r["people"], r["rate"]) for r in hours] == [
        ("2026-10-25T02:00+02:00", 1, 1.0), ("2026-10-25T02:00+01:00", 1, 0.0)]
    days = json.loads(report(path, "--by", "day", "--tz", "Europe/Berlin", "--since", "2026-03-28",
                             "--until", "2026-03-31", "--format", "json").stdout)
    assert [(r["day"], r["people"]) for r in days] == [("2026-03-28", 1), ("2026-03-29", 4), ("2026-03-30", 1)]
    spring = json.loads(report(path, "--by", "hour", "--tz", "Europe/Berlin", "--since", "2026-03-29T01:00",
                               "--until", "2026-03-29T04:00", "--format", "json").stdout)
    assert [r["hour"] for r in spring] == ["2026-03-29T01:00+01:00", "2026-03-29T03:00+02:00"]
    kolkata = json.loads(report(path, "--by", "day", "--tz", "Asia/Kolkata", "--since", "2026-06-01",
                                "--until", "2026-06-03", "--format", "json").stdout)
    assert [(r["day"], r["people"]) for r in kolkata] == [("2026-06-01", 1), ("2026-06-02", 1)]
    # --since in the zone: Berlin's 29 March began at 23:00Z on the 28th.
    assert parse_moment("2026-03-29", BERLIN) == datetime(2026, 3, 28, 23, tzinfo=timezone.utc)
    assert bucket(int(datetime(2026, 12, 31, 23, tzinfo=timezone.utc).timestamp()), "week", BERLIN) == "2026-W53"


def test_html_report_has_figures_a_table_and_the_longest_unmasked_with_their_snapshot(tmp_path):
    path = tmp_path / "e.db"
    snap = tmp_path / "snap.jpg"
    snap.write_bytes(b"\xff\xd8\xff\xe0 a pixelated frame")
    sink = open_sink(str(path))
    person(sink, "2026-12-01T09:00:00Z", ["with_mask", "without_mask"], track=1)    # 10 s bare, then left
    person(sink, "2026-12-01T09:10:00Z", ["incorrect_mask", "without_mask", "with_mask"], track=2,
           snapshot=str(snap))                                                                  # 20 s
    person(sink, "2026-12-01T09:20:00Z", ["with_mask"], track=3)
    sink.close()
    with open_store(str(path)) as store:
        longest = people.unmasked_longest(store)
    assert [(p["track_id"], p["seconds"]) for p in longest] == [(2, 20.0), (1, 10.0)]
    out = tmp_path / "html"
    result = report(path, "--format", "html", "--out", out, "--tz", "UTC", "--by", "location")
    assert result.exit_code == 0, result.output
    for name in ("over_time.png", "heat_map.png", "class_counts.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "index.html").read_text()
    assert "66.7%" in page and "of 3 people" in page
    assert "src='snapshots/snap.jpg'" in page and (out / "snapshots" / "snap.jpg").read_bytes() == snap.read_bytes()
    assert "http" not in page.replace("<!doctype html>", "")   # self-contained: nothing fetched


def test_clear_errors_never_a_traceback(tmp_path, db):
    result = report(tmp_path / "missing.db")
    assert result.exit_code == 1 and "missing.db: no such events database" in result.stderr
    assert not (tmp_path / "missing.db").exists()
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    result = report(tmp_path / "other.db")
    assert result.exit_code == 1 and "not an events database" in result.stderr
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all" * 100)
    result = report(tmp_path / "junk.db")
    assert result.exit_code == 1 and "cannot read events" in result.stderr
    assert "unknown time zone 'Mars/Olympus'" in report(db, "--tz", "Mars/Olympus").stderr
    assert "is not a time" in report(db, "--since", "last tuesday").stderr
    assert "add --out DIR" in report(db, "--format", "html").stderr
    for result in (report(db, "--tz", "Mars/Olympus"), report(tmp_path / "junk.db")):
        assert "Traceback" not in result.output


def test_postgresql_gives_the_same_report_as_sqlite(db, tmp_path):
    import psycopg

    admin = os.environ.get("MASKHOG_TEST_POSTGRES")
    if not admin:
        message = "MASKHOG_TEST_POSTGRES is not set: run under .ci/services (it starts PostgreSQL)"
        if os.environ.get("CI"):
            pytest.fail(f"in CI, {message}")
        pytest.skip(message)
    name = "maskhog_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        sink = open_sink(url, queue_dir=tmp_path / "queues")
        seed(sink)
        assert sink.flush(20.0)
        sink.close()
        for args in (["--by", "day", "--by", "location", "--tz", "Europe/Berlin"], ["--by", "hour", "--tz", "UTC"],
                     ["--since", "2026-12-02", "--by", "camera"]):
            from_pg = report(url, *args, "--format", "json")
            assert from_pg.exit_code == 0, from_pg.output
            assert json.loads(from_pg.stdout) == json.loads(report(db, *args, "--format", "json").stdout)
        with open_store(url) as store:
            assert people.unmasked_longest(store)[0]["track_id"] == 9
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_the_default_install_reports_without_the_extras_and_names_the_one_to_install(db, tmp_path, monkeypatch):
    for module in ("matplotlib", "starlette", "uvicorn"):
        monkeypatch.setitem(sys.modules, module, None)   # as if not installed
    assert report(db, "--by", "location").exit_code == 0
    result = report(db, "--format", "html", "--out", tmp_path / "html")
    assert result.exit_code == 1 and "pip install 'maskhog[report]'" in result.stderr
    result = CliRunner().invoke(main, ["serve", str(db)])
    assert result.exit_code == 1 and "pip install 'maskhog[dashboard]'" in result.stderr
