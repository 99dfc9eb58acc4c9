"""Events and their local sinks: the record, URLs, SQLite and JSON lines, and `live --events`."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from maskhog.cli import main
from maskhog.events import FIELDS, SinkError, make_event, open_sink
from maskhog.events.schema import NAMES, from_row
from maskhog.events.sinks import JsonlSink, SqliteSink, StdoutSink
from maskhog.io.demo import demo_images


def write_clip(path, pattern, fps=10):
    """A video of the astronaut: 'b' bare, 'm' with a drawn mask, '.' an empty frame, per frame."""
    (_, bare), (_, masked) = demo_images()
    frames = {"b": bare, "m": masked, ".": np.full_like(bare, 128)}
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, bare.shape[1::-1])
    for c in pattern:
        writer.write(frames[c])
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("video") / "clip.avi", "b" * 10 + "." * 10 + "m" * 10 + "." * 10)


def rows(db):
    with sqlite3.connect(db) as con:
        return [from_row(r) for r in con.execute(
            f"SELECT {', '.join(chr(34) + n + chr(34) for n in NAMES)} FROM events ORDER BY id")]


def test_an_event_has_every_field_and_utc_milliseconds():
    e = make_event("appeared", track_id=3, label="with_mask", score=0.91234, box=(10, 20, 74, 90),
                   camera="door1", location="ward-3", frame=7)
    assert tuple(e) == FIELDS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"])
    assert e["face_px"] == 64 and e["box"] == [10, 20, 74, 90] and e["score"] == 0.9123
    assert e["event_id"] != make_event("left", track_id=3, label="with_mask", score=0.9, box=(0, 0, 1, 1),
                                       camera="c", location="l")["event_id"]
    with pytest.raises(ValueError, match="unknown event 'opened'"):
        make_event("opened", track_id=1, label=None, score=0, box=(0, 0, 1, 1), camera="c", location="l")


def test_sink_urls(tmp_path):
    assert isinstance(open_sink("-"), StdoutSink)
    for url, kind in ((str(tmp_path / "a.db"), SqliteSink), (f"sqlite://{tmp_path}/b.db", SqliteSink),
                      (str(tmp_path / "a.jsonl"), JsonlSink), (f"jsonl://{tmp_path}/b.jsonl", JsonlSink)):
        sink = open_sink(url)
        assert isinstance(sink, kind), url
        sink.close()
    with pytest.raises(SinkError, match=r"unknown event sink 'kafka://'; use -, sqlite:///FILE"):
        open_sink("kafka://broker/topic")
    with pytest.raises(SinkError, match="no such folder"):
        open_sink(f"sqlite://{tmp_path}/nope/e.db")
    with pytest.raises(SinkError, match="no file"):
        open_sink("jsonl://")
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(SinkError, match="not a usable events database"):
        open_sink(str(tmp_path / "junk.db"))


def test_the_sqlite_schema_wal_version_and_indexes(tmp_path):
    db = tmp_path / "e.db"
    sink = open_sink(str(db))
    event = make_event("alert", track_id=1, label="without_mask", score=0.7, box=(1, 2, 3, 4),
                       camera="c", location="l", frame=0)
    sink.write(event)
    sink.write(event)   # the same record twice (sent again) is kept once
    sink.close()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        indexed = {r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE type='index'") if r[0]}
    assert any('("time")' in s for s in indexed) and any("(location" in s for s in indexed)
    assert rows(db) == [event]
    # Opening it again keeps what is there and does not add a second version row.
    open_sink(str(db)).close()
    assert len(rows(db)) == 1
    with sqlite3.connect(db) as con:
        con.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(SinkError, match="schema version 99, newer"):
        open_sink(str(db))


def test_live_sends_the_same_events_to_every_sink(clip, tmp_path):
    db, lines = tmp_path / "e.db", tmp_path / "e.jsonl"
    result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--detect-every", "2",
                                       "--events", f"sqlite://{db}", "--events", f"jsonl://{lines}",
                                       "--events", "-", "--camera", "door1", "--location", "ward-3"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e["label"], e["track_id"]) for e in printed] == [
        ("appeared", "without_mask", 1), ("left", "without_mask", 1),
        ("appeared", "with_mask", 2), ("left", "with_mask", 2)]
    assert all(e["camera"] == "door1" and e["location"] == "ward-3" and 60 < e["face_px"] < 120
               for e in printed)
    assert rows(db) == printed
    assert [json.loads(line) for line in lines.read_text().splitlines()] == printed
    # With --events, nothing goes to stdout unless '-' is one of them.
    quiet = CliRunner().invoke(main, ["live", str(clip), "--headless", "--events", str(tmp_path / "f.db")])
    assert quiet.exit_code == 0 and quiet.stdout == "" and len(rows(tmp_path / "f.db")) == 4


def test_live_refuses_a_bad_sink_url_with_a_message(clip):
    result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--events", "ftp://x/y"])
    assert result.exit_code == 1 and "unknown event sink 'ftp://'" in result.output
    assert "Traceback" not in result.output


def _start_live(clip, db, *extra):
    return subprocess.Popen([sys.executable, "-m", "maskhog", "live", str(clip), "--headless", "--realtime",
                             "--detect-every", "1", "--events", f"sqlite://{db}", "--events", "-", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _read_events(proc, count, timeout=60):
    got, end = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        got.append(json.loads(line))
    return got


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """20 s at 10 frames/s: she comes and goes every second."""
    return write_clip(tmp_path_factory.mktemp("video") / "long.avi", ("b" * 5 + "." * 5) * 20)


def test_kill_9_after_an_event_is_reported_loses_nothing(long_clip, tmp_path):
    db = tmp_path / "e.db"
    with _start_live(long_clip, db) as proc:
        try:
            reported = _read_events(proc, 5)
            assert len(reported) == 5, proc.stderr.read() if proc.poll() is not None else "too slow"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    kept = rows(db)
    assert kept[:len(reported)] == reported   # every reported event, in order, intact
    assert len({e["event_id"] for e in kept}) == len(kept)


def test_sigterm_ends_the_open_tracks_in_the_database(long_clip, tmp_path):
    db = tmp_path / "e.db"
    with _start_live(long_clip, db) as proc:
        try:
            reported = _read_events(proc, 3)   # appeared, left, appeared: she is in view
            assert [e["event"] for e in reported] == ["appeared", "left", "appeared"]
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        finally:
            proc.kill()
    assert proc.returncode == 0
    kept = rows(db)
    assert kept[-1]["event"] == "left" and kept[-1]["track_id"] == kept[-2]["track_id"]


def test_a_snapshot_blurs_everyone_in_the_frame_even_a_person_not_yet_classified(tmp_path):
    """She is classified and makes an event; he came into view on this very frame and has no
    verdict yet: his face is pixelated in her snapshot all the same."""
    from maskhog.events.recorder import EventRecorder
    from maskhog.events.snapshots import Snapshots
    from maskhog.live import Track

    (_, bare), _ = demo_images()
    frame = np.hstack([bare, bare])   # two people side by side
    her = Track(1, (170, 40, 330, 220), None, label="without_mask", score=0.9)
    him = Track(2, (170 + bare.shape[1], 40, 330 + bare.shape[1], 220), None)   # label None
    sink = JsonlSink(tmp_path / "e.jsonl")
    recorder = EventRecorder(sink, snapshots=Snapshots(tmp_path / "shots"))
    recorder.on_event({"event": "appeared", "track": 1, "label": her.label, "score": her.score,
                       "box": list(her.box), "frame": 0})
    recorder.on_frame(frame, [her, him])
    recorder.close()
    (event,) = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    shot = cv2.imread(event["snapshot"]).astype(float)

    def detail(box):   # pixel-to-pixel change inside the box: low once pixelated
        x1, y1, x2, y2 = box
        return np.abs(np.diff(shot[y1:y2, x1:x2], axis=1)).mean()

    raw = np.abs(np.diff(frame[40:220, 170:330].astype(float), axis=1)).mean()
    assert detail(her.box) < raw / 3 and detail(him.box) < raw / 3


def test_a_cameras_alert_cooldown_holds_back_the_next_persons_alert(tmp_path):
    """Two bare people in turn (two tracks): an alert each, or one with --camera-alert-cooldown."""
    twice = write_clip(tmp_path / "twice.avi", "b" * 10 + "." * 10 + "b" * 10 + "." * 10)
    alerts = {}
    for name, more in (("per person", []), ("per camera", ["--camera-alert-cooldown", "1h"])):
        result = CliRunner().invoke(main, ["live", str(twice), "--headless", "--alerts", "--detect-every", "1",
                                           *more])
        assert result.exit_code == 0, result.output
        printed = [json.loads(line) for line in result.stdout.splitlines()]
        assert [e["track_id"] for e in printed if e["event"] == "appeared"] == [1, 2]
        alerts[name] = [e["track_id"] for e in printed if e["event"] == "alert"]
    assert alerts == {"per person": [1, 2], "per camera": [1]}
