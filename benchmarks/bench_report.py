"""`maskhog report` and the dashboard's summary API over 1,000,000 events in SQLite.

Goals (issue 34): the report ``--by day --by location`` in <= 5 s; ``/api/summary``
<= 100 ms at the 95th percentile on the same database.

The database is made with the events schema (maskhog.events.schema): 4 locations
with 2 cameras each, 90 days ending now, one run per camera and day (track ids
start again at 1 each day), about 2.5 events per person (appeared, sometimes
changed, left, and gate decisions and alerts). Each location has its own
compliance rate, so the report's answer can be checked against the generator's.

    python benchmarks/bench_report.py [--events 1000000] [--db /tmp/bench-report.db] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from maskhog.events import schema
from maskhog.events.event import utc_now, utc_text

LOCATIONS = {"entrance": 0.92, "ward-3": 0.81, "canteen": 0.55, "lab": 0.97}
CAMERAS = ("a", "b")


def make_db(path: Path, events: int, days: int = 90, seed: int = 0) -> dict:
    """A synthetic events database of about ``events`` events; return what went in."""
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in schema.create_statements("sqlite"):
        db.execute(statement)
    db.execute("INSERT INTO schema_version (version) VALUES (?)", (schema.SCHEMA_VERSION,))
    names = ", ".join(f'"{n}"' for n in schema.NAMES)
    insert = f"INSERT INTO events ({names}) VALUES ({', '.join('?' * len(schema.NAMES))})"
    end = datetime.now(timezone.utc)
    start = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    per_run = max(1, round(events / 2.45 / ((days + 1) * len(LOCATIONS) * len(CAMERAS))))
    written, people, batch = 0, 0, []
    for day in range(days + 1):   # the last is today, up to now
        for location, rate in LOCATIONS.items():
            for camera in CAMERAS:
                t = start + timedelta(days=day, hours=6)
                for track in range(1, per_run + 1):
                    t += timedelta(seconds=rng.uniform(1, 16 * 3600 / per_run))
                    if t >= end:
                        break
                    label = "with_mask" if rng.random() < rate else rng.choice(("without_mask", "incorrect_mask"))
                    first = label if rng.random() < 0.8 else rng.choice(("with_mask", "without_mask"))
                    seq = [("appeared", first, t)]
                    if first != label:
                        seq.append(("changed", label, t + timedelta(seconds=2)))
                    if rng.random() < 0.3:
                        seq.append(("allow" if label == "with_mask" else "deny", label, t + timedelta(seconds=3)))
                    if label != "with_mask" and rng.random() < 0.5:
                        seq.append(("alert", label, t + timedelta(seconds=3)))
                    seq.append(("left", label, t + timedelta(seconds=rng.uniform(4, 30))))
                    for kind, lab, when in seq:
                        batch.append((uuid.uuid4().hex, utc_text(when), f"{location}-{camera}", location, track, kind,
                                      lab, 0.9, 80, "[0, 0, 80, 96]", 0, None))
                    people += 1
                    written += len(seq)
                if len(batch) > 50_000:
                    db.executemany(insert, batch)
                    batch.clear()
    db.executemany(insert, batch)
    db.commit()
    db.close()
    return {"events": written, "people": people}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/bench-report.db"))
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    t0 = time.perf_counter()
    made = make_db(args.db, args.events)
    print(f"made {made['events']:,} events ({made['people']:,} people) in {time.perf_counter() - t0:.1f} s: {args.db}")

    for by in (["day", "location"], ["week", "location"], ["location"]):
        command = [sys.executable, "-m", "maskhog", "report", str(args.db), "--tz", "Europe/Berlin",
                   "--format", "json"] + [a for b in by for a in ("--by", b)]
        t0 = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - t0
        rows = json.loads(run.stdout)
        print(f"report --by {' --by '.join(by)}: {seconds:.2f} s for {len(rows)} rows "
              f"(goal <= 5 s: {seconds / 5:.2f}x of it; includes starting Python)")
        if by == ["location"]:
            for r in rows:
                print(f"  {r['location']:>9}: rate {r['rate']:.3f} [{r['low']:.3f}, {r['high']:.3f}], "
                      f"made with {LOCATIONS[r['location']]:.2f}, {r['people']:,} people")

    # What the summary's cost grows with: the events of "today". A full day here, and everything.
    from maskhog.report import people
    from maskhog.report.store import open_store

    with open_store(str(args.db)) as store:
        for label, hours in (("the last 24 hours", 24), ("the last 7 days", 24 * 7)):
            since = datetime.now(timezone.utc) - timedelta(hours=hours)
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                people.person_counts(store, since)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            print(f"people counted over {label}: p95 {times[18]:.1f} ms (20 runs, in process)")

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "maskhog", "-q", "serve", str(args.db), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/api/summary"
        for _ in range(200):
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                time.sleep(0.05)
        times = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            with urllib.request.urlopen(url, timeout=5) as answer:
                summary = json.loads(answer.read())
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"/api/summary: {args.requests} requests, p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms "
              f"(goal <= 100 ms: {p95 / 100:.2f}x of it); today {summary['total']['people']:,} people")
        # While a writer adds events, as `live` would.
        stop = threading.Event()

        def writer():
            db = sqlite3.connect(args.db, isolation_level=None)
            names = ", ".join(f'"{n}"' for n in schema.NAMES)
            insert = f"INSERT INTO events ({names}) VALUES ({', '.join('?' * len(schema.NAMES))})"
            track = 100_000
            while not stop.is_set():
                track += 1
                now = utc_now()
                db.execute(insert, (uuid.uuid4().hex, now, "entrance-a", "entrance", track, "appeared",
                                    "with_mask", 0.9, 80, "[0, 0, 80, 96]", 0, None))
                time.sleep(0.01)
            db.close()

        thread = threading.Thread(target=writer)
        thread.start()
        times = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            urllib.request.urlopen(url, timeout=5).read()
            times.append((time.perf_counter() - t0) * 1000)
        stop.set()
        thread.join()
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"/api/summary with a writer adding 100 events/s: p50 {statistics.median(times):.1f} ms, "
              f"p95 {p95:.1f} ms")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
