"""Event sinks on real services on 127.0.0.1: PostgreSQL, Mosquitto, an HTTP receiver; the gate and check.

`.ci/services` starts the broker and the database and names them in MASKHOG_TEST_MQTT,
MASKHOG_TEST_MOSQUITTO and MASKHOG_TEST_POSTGRES. Without them these tests skip, except
in CI (CI set), where a missing service is a failure.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from maskhog.cli import main
from maskhog.events import make_event
from maskhog.events.gate import AlertCooldown
from maskhog.events.schema import NAMES, from_row
from maskhog.events.sinks import MqttSink, QueuedSink, WebhookSink
from maskhog.io.demo import demo_images

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
from test_events import rows, write_clip  # noqa: E402


def service(name):
    value = os.environ.get(name)
    if not value:
        message = f"{name} is not set: run under .ci/services (it starts Mosquitto and PostgreSQL)"
        if os.environ.get("CI"):
            pytest.fail(f"in CI, {message}")
        pytest.skip(message)
    return value


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(QueuedSink, "retry", 0.05)
    monkeypatch.setattr(QueuedSink, "retry_max", 0.4)


def events(n, camera="door1", location="ward-3"):
    return [make_event("appeared" if i % 2 == 0 else "left", track_id=i, label="with_mask", score=0.9,
                       box=(10, 20, 74, 90), camera=camera, location=location, frame=i) for i in range(n)]


# -------------------------------------------------------------- PostgreSQL --

@pytest.fixture
def postgres_url():
    import psycopg

    admin = service("MASKHOG_TEST_POSTGRES")
    name = "maskhog_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    yield admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"DROP DATABASE {name} WITH (FORCE)")


def pg_rows(url):
    import psycopg

    columns = ", ".join("to_char(\"time\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                        if n == "time" else f'"{n}"' for n in NAMES)
    with psycopg.connect(url) as con:
        return [from_row(r) for r in con.execute(f"SELECT {columns} FROM events ORDER BY id")]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("video") / "clip.avi", "b" * 10 + "." * 10 + "m" * 10 + "." * 10)


def test_live_events_arrive_in_postgresql_exactly_as_in_sqlite(clip, tmp_path, postgres_url):
    import psycopg

    db = tmp_path / "e.db"
    result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--gate", "--alerts", "--detect-every", "1", "--recheck-every", "1",
                                       "--events", str(db), "--events", postgres_url,
                                       "--queue-dir", str(tmp_path / "q"), "--camera", "door1"])
    assert result.exit_code == 0, result.output
    kept = rows(db)
    assert [e["event"] for e in kept].count("appeared") == 2 and "allow" in [e["event"] for e in kept]
    assert pg_rows(postgres_url) == kept
    with psycopg.connect(postgres_url) as con:
        assert con.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        indexes = {r[0] for r in con.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'events'")}
    assert {"events_time", "events_location_time"} <= indexes


def test_postgresql_unreachable_keeps_the_queue_and_a_resent_event_is_kept_once(tmp_path, postgres_url):
    from maskhog.events.sinks import PostgresSink

    away = postgres_url.replace("127.0.0.1:", "127.0.0.1:1")   # a port nothing listens on
    sink = PostgresSink(away, queue_dir=tmp_path, drain=0.2)
    sent = events(20)
    for e in sent:
        sink.write(e)
    assert not sink.flush(0.5)
    sink.close()
    again = PostgresSink(away, queue_dir=tmp_path, drain=0.1)   # the next run finds them waiting
    assert len(again.queue) == 20
    again.close()
    real = PostgresSink(postgres_url, queue_dir=tmp_path)
    for e in sent[:5] + sent[:5]:   # sent again after a lost acknowledgement
        real.write(e)
    assert real.flush(10)
    real.close()
    assert pg_rows(postgres_url) == sent[:5]


# --------------------------------------------------------------------- MQTT --

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A Mosquitto of this test's own, so it can be stopped and started again."""

    def __init__(self, folder):
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                             f"persistence true\npersistence_location {folder}/\n")
        self.binary = service("MASKHOG_TEST_MOSQUITTO")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self):
        self.proc.terminate()   # saves its sessions: the subscriber's queued messages survive
        self.proc.wait(10)


class Subscriber:
    """A persistent QoS 1 session that collects every message on a topic filter."""

    def __init__(self, port, topic, host="127.0.0.1"):
        import paho.mqtt.client as mqtt

        self.messages, self.connected = [], threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="maskhog-test-" + uuid.uuid4().hex,
                                  clean_session=False)
        self.client.on_connect = lambda c, u, f, rc, p=None: (c.subscribe(topic, qos=1), self.connected.set())
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload.decode(), m.retain))
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.connected.wait(5)
        time.sleep(0.1)

    def wait_for(self, test, timeout=20):
        end = time.monotonic() + timeout
        while not test(self.messages) and time.monotonic() < end:
            time.sleep(0.05)
        return test(self.messages)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    if b.proc.poll() is None:
        b.stop()


def test_mqtt_broker_stopped_mid_run_loses_and_duplicates_nothing(broker, tmp_path):
    sub = Subscriber(broker.port, "site/#")
    sink = MqttSink(f"mqtt://127.0.0.1:{broker.port}/site", camera="door1", location="ward-3",
                    queue_dir=tmp_path / "q")
    sent = events(150)
    try:
        # Retained copies (the newest event, again, to a subscription made anew) are not new events.
        on_topic = lambda ms: [m for m in ms if m[0] == "site/ward-3/door1/events" and not m[2]]  # noqa: E731
        for e in sent[:50]:
            sink.write(e)
        assert sink.flush(10) and sub.wait_for(lambda ms: len(on_topic(ms)) == 50)
        broker.stop()
        for e in sent[50:100]:   # made while the broker is down: they wait on disk
            sink.write(e)
        time.sleep(0.5)
        assert len(sink.queue) == 50
        broker.start()
        for e in sent[100:]:
            sink.write(e)
        assert sink.flush(20), "the queue did not drain after the broker came back"
        assert sub.wait_for(lambda ms: len(on_topic(ms)) >= 150)
        time.sleep(0.3)   # a duplicate would arrive by now
        got = [json.loads(p)["event_id"] for _, p, _ in on_topic(sub.messages)]
        assert got == [e["event_id"] for e in sent]   # all, in order, none twice
        assert ("site/ward-3/door1/status", "online", False) in sub.messages
    finally:
        sink.close()
        sub.close()
    # The status is retained: a newcomer learns the camera is offline.
    late = Subscriber(broker.port, "site/ward-3/door1/status")
    try:
        assert late.wait_for(lambda ms: ms and ms[-1][1:] == ("offline", True), 5)
    finally:
        late.close()


def test_mqtt_events_the_broker_has_but_the_queue_kept_are_not_sent_again(broker, tmp_path):
    """What ``kill -9`` leaves when it strikes after the broker took events and before their
    acknowledgements reached the queue: they are still queued. They must not go out twice."""
    from maskhog.events.queue import DiskQueue

    sub = Subscriber(broker.port, "site/#")
    url = f"mqtt://127.0.0.1:{broker.port}/site"
    sent = events(15)
    try:
        first = MqttSink(url, camera="door1", location="ward-3", queue_dir=tmp_path / "q")
        for e in sent[:10]:
            first.write(e)
        assert first.flush(10)
        first.close()
        kept = DiskQueue(first.queue.path)   # the acknowledgements of the last five, lost
        for e in sent[5:]:
            kept.put(json.dumps(e))
        kept.close()
        again = MqttSink(url, camera="door1", location="ward-3", queue_dir=tmp_path / "q")
        assert len(again.queue) == 0 or again.flush(10)
        again.close()
        fresh = lambda ms: [json.loads(p)["event_id"] for t, p, r in ms if t.endswith("/events") and not r]  # noqa: E731
        assert sub.wait_for(lambda ms: len(fresh(ms)) >= 15)
        time.sleep(0.3)   # a repeat would arrive by now
        assert fresh(sub.messages) == [e["event_id"] for e in sent]   # each once, in order
    finally:
        sub.close()
    # A subscriber that comes later gets the camera's newest event at once, flagged retained.
    late = Subscriber(broker.port, "site/ward-3/door1/events")
    try:
        assert late.wait_for(lambda ms: ms and ms[-1][2], 5)
        assert [json.loads(p)["event_id"] for _, p, _ in late.messages] == [sent[-1]["event_id"]]
    finally:
        late.close()


def test_mqtt_last_will_says_offline_when_live_is_killed(tmp_path, clip):
    host, port = service("MASKHOG_TEST_MQTT").rsplit(":", 1)
    sub = Subscriber(int(port), "site/+/+/status")
    proc = subprocess.Popen([sys.executable, "-m", "maskhog", "live", str(clip), "--headless", "--realtime",
                             "--events", f"mqtt://{host}:{port}/site", "--camera", "cam9",
                             "--queue-dir", str(tmp_path / "q")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert sub.wait_for(lambda ms: ("site/default/cam9/status", "online", False) in ms, 30)
        proc.kill()
        proc.wait(10)
        # keepalive 30 s is too long to wait for; a closed socket sends the will at once
        assert sub.wait_for(lambda ms: ms[-1][:2] == ("site/default/cam9/status", "offline"), 10)
    finally:
        proc.kill()
        proc.wait()
        sub.close()


# ------------------------------------------------------------------ webhook --

class Receiver(BaseHTTPRequestHandler):
    answers: list = []
    seen: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        code = self.answers.pop(0) if self.answers else 200
        self.seen.append((code, json.loads(body)["event_id"]))
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_answering_500_twice_sees_the_retries(tmp_path):
    Receiver.answers, Receiver.seen = [500, 500], []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sink = WebhookSink(f"http://127.0.0.1:{server.server_port}/hook", tmp_path)
        sent = events(3)
        for e in sent:
            sink.write(e)
        assert sink.flush(10)
        sink.close()
    finally:
        server.shutdown()
        server.server_close()
    first = sent[0]["event_id"]
    assert Receiver.seen[:3] == [(500, first), (500, first), (200, first)]
    assert [eid for code, eid in Receiver.seen if code == 200] == [e["event_id"] for e in sent]


# ------------------------------------------------------ gate, alerts, check --

def test_live_gate_denies_her_bare_and_allows_her_masked_and_runs_the_actions(clip, tmp_path):
    log = tmp_path / "actions.txt"
    act = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'a').write(' '.join(sys.argv[2:]) + chr(10))\" {log}"
    result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--gate", "--detect-every", "1", "--recheck-every", "1",
                                       "--on-allow", act + " allow {track_id} {label}",
                                       "--on-deny", act + " deny {track_id} {label}"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    decisions = [(e["event"], e["track_id"], e["label"]) for e in printed if e["event"] in ("allow", "deny")]
    assert decisions == [("deny", 1, "without_mask"), ("allow", 2, "with_mask")]
    # The decision needs 3 verdicts: not on her first frame.
    allow = next(e for e in printed if e["event"] == "allow")
    assert allow["frame"] >= 22
    assert sorted(log.read_text().splitlines()) == ["allow 2 with_mask", "deny 1 without_mask"]


def test_alerts_one_per_person_per_cooldown():
    now = [0.0]
    cooldown = AlertCooldown(30, clock=lambda: now[0])
    assert cooldown.allows("door1", 1) and not cooldown.allows("door1", 1)
    assert cooldown.allows("door1", 2) and cooldown.allows("door2", 1)
    now[0] = 29.9
    assert not cooldown.allows("door1", 1)
    now[0] = 30.0
    assert cooldown.allows("door1", 1)
    # With a camera's limit too: one alert from door1 in 60 s, whoever it is about.
    now[0] = 0.0
    both = AlertCooldown(30, per_camera=60, clock=lambda: now[0])
    assert both.allows("door1", 1) and not both.allows("door1", 2) and both.allows("door2", 2)
    now[0] = 45.0
    assert not both.allows("door1", 1) and not both.allows("door1", 3)   # the camera waits 60 s
    now[0] = 60.0
    assert both.allows("door1", 3) and not both.allows("door1", 1)


def test_snapshots_blur_the_face_unless_no_blur(clip, tmp_path):
    detail = {}
    for blur in (True, False):
        folder = tmp_path / f"snap{blur}"
        result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--alerts", "--snapshots",
                                           str(folder)] + ([] if blur else ["--no-blur"]))
        assert result.exit_code == 0, result.output
        printed = [json.loads(line) for line in result.stdout.splitlines()]
        with_shots = [e for e in printed if e["snapshot"]]
        assert {e["event"] for e in with_shots} == {"appeared", "alert"}
        assert all(e["snapshot"] is None for e in printed if e["event"] == "left")
        assert sorted(str(p) for p in folder.iterdir()) == sorted(e["snapshot"] for e in with_shots)
        e = with_shots[0]
        x1, y1, x2, y2 = e["box"]
        face = cv2.imread(e["snapshot"])[y1:y2, x1:x2].astype(float)
        detail[blur] = np.abs(np.diff(face, axis=1)).mean()   # pixel-to-pixel change inside the face
    assert detail[True] < detail[False] / 3, detail


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    (_, bare), (_, masked) = demo_images()
    for name, image in (("bare", bare), ("masked", masked), ("empty", np.full_like(bare, 128))):
        cv2.imwrite(str(folder / f"{name}.png"), image)
    return folder


@pytest.mark.parametrize("name, status, decision", [("masked", 0, "allow"), ("bare", 1, "deny"),
                                                     ("empty", 3, None)])
def test_check_decides_on_a_photo(photos, name, status, decision):
    result = CliRunner().invoke(main, ["check", str(photos / f"{name}.png"), "--timeout", "5"])
    assert result.exit_code == status, result.output
    out = json.loads(result.stdout)
    assert out["decision"] == decision
    if decision:
        assert out["label"] == ("with_mask" if decision == "allow" else "without_mask") and out["face_px"] > 60


def test_check_on_a_video_decides_by_the_gate_and_errors_exit_2(clip, tmp_path):
    masked = write_clip(tmp_path / "m.avi", "m" * 20)
    result = CliRunner().invoke(main, ["check", str(masked), "--gate-frames", "3"])
    assert result.exit_code == 0 and json.loads(result.stdout)["reason"] == "gate"
    missing = CliRunner().invoke(main, ["check", str(tmp_path / "nope.avi")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    bad = CliRunner().invoke(main, ["check", str(masked), "--events", "ftp://x"])
    assert bad.exit_code == 2


def test_an_mqtt_action_and_an_mqtt_sink_on_one_broker_have_a_queue_each(clip, tmp_path):
    host, port = service("MASKHOG_TEST_MQTT").rsplit(":", 1)
    sub = Subscriber(int(port), "gate/#")
    url = f"mqtt://{host}:{port}/gate"
    try:
        result = CliRunner().invoke(main, ["live", str(clip), "--headless", "--gate", "--detect-every", "1",
                                           "--events", url, "--on-allow", url, "--queue-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert sub.wait_for(lambda ms: len([m for m in ms if m[0].endswith("/events") and not m[2]]) >= 6, 10)
        time.sleep(0.3)
    finally:
        sub.close()
    got = [json.loads(p) for t, p, retained in sub.messages if t.endswith("/events") and not retained]
    acted = [json.loads(p) for t, p, retained in sub.messages if t.endswith("/allow") and not retained]
    kinds = [e["event"] for e in got]
    # Every event once from the sink, and the allow once more from the action, on its own topic.
    assert kinds.count("allow") == 1 and kinds.count("appeared") == 2 and kinds.count("deny") == 1
    assert len({e["event_id"] for e in got}) == len(got)
    assert [e["event_id"] for e in acted] == [e["event_id"] for e in got if e["event"] == "allow"]
