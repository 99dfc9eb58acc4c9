"""Events through each sink: events/s, and none lost or duplicated across a broker restart and a kill -9.

Run under .ci/services (it starts Mosquitto and PostgreSQL and names them in
MASKHOG_TEST_*); a sink whose service is not named is left out:

    . .ci/services && python benchmarks/bench_events.py [--events 100000]

Per sink it prints how fast ``write`` returns (the event is then on disk: in
the database, the file, or the on-disk queue) and how fast the queued sinks
deliver (until the queue is empty). Then MQTT with the broker stopped for a
third of the run, and a writer process killed with SIGKILL: the receiver must
hold every reported event, in order; a resend after kill -9 (acknowledged but
not yet deleted from the queue) is counted, and receivers drop it by event_id.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from maskhog.events import make_event, open_sink
from maskhog.events.sinks import QueuedSink

QueuedSink.retry, QueuedSink.retry_max = 0.05, 0.5   # a benchmark, not a deployment


def synthetic(n):
    return [make_event(("appeared", "changed", "left", "alert")[i % 4], track_id=i // 4, label="without_mask",
                       score=0.8, box=(100, 80, 180, 170), camera="door1", location="ward-3", frame=i)
            for i in range(n)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """A QoS 1 subscriber (persistent session) keeping every payload's event_id in arrival order."""

    def __init__(self, port, topic="bench/#"):
        import paho.mqtt.client as mqtt

        self.ids, ready = [], threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-" + uuid.uuid4().hex,
                                  clean_session=False)
        self.client.max_inflight_messages_set(1000)
        self.client.on_connect = lambda c, u, f, rc, p=None: (c.subscribe(topic, qos=1), ready.set())
        # A retained message is the newest event again, for a subscription made anew: not a new one.
        self.client.on_message = lambda c, u, m: m.topic.endswith("/events") and not m.retain and self.ids.append(
            json.loads(m.payload)["event_id"])
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        ready.wait(5)
        time.sleep(0.2)

    def wait(self, n, timeout=120):
        end = time.monotonic() + timeout
        while len(self.ids) < n and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.5)   # late duplicates arrive by now

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class Broker:
    def __init__(self, folder):
        self.port, self.folder = free_port(), folder
        (folder / "m.conf").write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                                       f"max_queued_messages 0\npersistence true\npersistence_location {folder}/\n")
        self.proc = None

    def start(self):
        binary = os.environ.get("MASKHOG_TEST_MOSQUITTO", "mosquitto")
        self.proc = subprocess.Popen([binary, "-c", str(self.folder / "m.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def verdict(sent_ids, got_ids):
    unique = list(dict.fromkeys(got_ids))
    lost = len(set(sent_ids) - set(got_ids))
    return (f"lost {lost}, duplicates {len(got_ids) - len(unique)}, "
            f"in order {'yes' if unique == list(sent_ids) else 'NO'}")


def through(url, events, folder, label):
    sink = open_sink(url, camera="door1", location="ward-3", queue_dir=folder / "queues")
    t0 = time.perf_counter()
    for e in events:
        sink.write(e)
    written = time.perf_counter() - t0
    line = f"{label:<12} write {len(events) / written:>9,.0f} events/s"
    if isinstance(sink, QueuedSink):
        sink.flush(600)
        line += f"   delivered {len(events) / (time.perf_counter() - t0):>9,.0f} events/s"
    sink.close()
    print(line, flush=True)


class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    seen: list = []

    def do_POST(self):
        self.seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["event_id"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


WRITER = """
import sys, json
from maskhog.events import open_sink
from maskhog.events.sinks import QueuedSink
QueuedSink.retry, QueuedSink.retry_max = 0.05, 0.5
sink = open_sink(sys.argv[1], camera="door1", location="ward-3", queue_dir=sys.argv[2])
for line in sys.stdin:
    sink.write(json.loads(line))
    print(json.loads(line)["event_id"], flush=True)   # reported: on disk now
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--webhook-events", type=int, default=None,
                        help="fewer for the webhook (one POST per event); default --events")
    parser.add_argument("--rate", type=float, default=50.0,
                        help="events/s fed to the paced kill -9 runs (a burst first, then these)")
    parser.add_argument("--kills", type=int, default=5, help="paced kill -9 runs")
    parser.add_argument("--only", choices=["sinks", "mqtt", "restart", "kill9"], action="append",
                        help="run only these parts (repeatable); default all")
    args = parser.parse_args()
    parts = set(args.only or ["sinks", "mqtt", "restart", "kill9"])
    n = args.events
    events = synthetic(n)
    folder = Path(tempfile.mkdtemp(prefix="bench-events-"))
    print(f"{n:,} synthetic events per sink", flush=True)
    if "sinks" in parts:
        through(f"sqlite://{folder}/e.db", events, folder, "sqlite")
        through(f"jsonl://{folder}/e.jsonl", events, folder, "jsonl")

    broker = Broker(folder)
    broker.start()
    collector = Collector(broker.port)
    if parts & {"sinks", "mqtt"}:
        through(f"mqtt://127.0.0.1:{broker.port}/bench", events, folder, "mqtt")
        collector.wait(n)
        print(f"{'':<12} mqtt receiver: {verdict([e['event_id'] for e in events], collector.ids)}", flush=True)

    pg = os.environ.get("MASKHOG_TEST_POSTGRES")
    if "sinks" not in parts:
        pass
    elif pg:
        import psycopg

        name = "bench_" + uuid.uuid4().hex[:8]
        with psycopg.connect(pg, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        url = pg.rsplit("/", 1)[0] + "/" + name
        through(url, events, folder, "postgresql")
        with psycopg.connect(url) as con:
            ids = [r[0] for r in con.execute("SELECT event_id FROM events ORDER BY id")]
        print(f"{'':<12} postgresql rows: {verdict([e['event_id'] for e in events], ids)}", flush=True)
        with psycopg.connect(pg, autocommit=True) as con:
            con.execute(f"DROP DATABASE {name} WITH (FORCE)")
    else:
        print("postgresql   left out: MASKHOG_TEST_POSTGRES is not set")

    if "sinks" in parts:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        few = events[: args.webhook_events or n]
        through(f"http://127.0.0.1:{server.server_port}/hook", few, folder, "webhook")
        print(f"{'':<12} webhook receiver: {verdict([e['event_id'] for e in few], Hook.seen)}", flush=True)
        server.shutdown()
        server.server_close()
    if "restart" in parts:
        restart(n, broker, collector, folder)
    if "kill9" in parts:
        kill9(n, broker, collector, folder)
        # At a busy door's rate, not a burst: what a kill -9 of live resends in practice.
        for k in range(args.kills):
            kill9(600, broker, collector, folder / f"paced{k}", rate=args.rate)
    collector.close()
    broker.stop()


def restart(n, broker, collector, folder):
    """The broker stopped for the middle third of the run."""
    collector.ids.clear()
    more = synthetic(n)
    sink = open_sink(f"mqtt://127.0.0.1:{broker.port}/bench", camera="door1", location="ward-3",
                     queue_dir=folder / "queues")
    t0 = time.perf_counter()
    for i, e in enumerate(more):
        if i == n // 3:
            broker.stop()
        if i == 2 * n // 3:
            broker.start()
        sink.write(e)
    sink.flush(600)
    seconds = time.perf_counter() - t0
    sink.close()
    collector.wait(n)
    print(f"broker restart mid-run: {n:,} events in {seconds:.1f} s; "
          f"{verdict([e['event_id'] for e in more], collector.ids)}", flush=True)



def kill9(n, broker, collector, folder, rate=None):
    """A writer killed with SIGKILL at a third of its run; the next run sends what it left queued.

    Fed as fast as it takes them, or at ``rate`` events/s. Events the broker passed on whose
    acknowledgement had not reached the queue are sent again: at most those in flight.
    """
    collector.ids.clear()
    last = synthetic(n)
    url = f"mqtt://127.0.0.1:{broker.port}/bench"
    queues = folder / "kill9"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url, str(queues)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)

    def feed():
        try:
            for e in last:
                proc.stdin.write(json.dumps(e) + "\n")
                if rate:
                    proc.stdin.flush()
                    time.sleep(1.0 / rate)
            proc.stdin.close()
        except BrokenPipeError:   # the writer was killed: that is the point
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    reported = []
    for line in proc.stdout:
        reported.append(line.strip())
        if len(reported) == n // 3:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    feeder.join()
    for pipe in (proc.stdin, proc.stdout):
        try:
            pipe.close()
        except BrokenPipeError:   # unsent lines in the buffer of a killed reader
            pass
    again = open_sink(url, camera="door1", location="ward-3", queue_dir=queues)
    again.flush(600)
    again.close()
    collector.wait(len(reported))
    kept = set(collector.ids)
    unique = list(dict.fromkeys(collector.ids))
    pace = f"at {rate:g} events/s" if rate else "as fast as written"
    print(f"kill -9 {pace} after {len(reported):,} reported: lost {len(set(reported) - kept)}, "
          f"resent after the kill {len(collector.ids) - len(unique)} (dropped by event_id), "
          f"in order {'yes' if unique[:len(reported)] == reported else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
