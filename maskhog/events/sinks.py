"""Where events go: one sink per URL given to ``--events``.

=================================  ==============================================
``-``                              one JSON line per event on stdout
``jsonl:///path`` (or ``x.jsonl``)  one JSON line per event, appended to a file
``sqlite:///path`` (or a path)     a SQLite database (:mod:`.schema`), WAL mode
``mqtt://[user:pw@]host[:port]/p``  MQTT, QoS 1, topic ``p/<location>/<camera>/events``
``http(s)://...``                  a webhook: each event POSTed as JSON
``postgresql://...``               a PostgreSQL database with the SQLite schema
=================================  ==============================================

The local sinks write each event before :meth:`Sink.write` returns: SQLite
commits it, a file is flushed to the operating system, so killing the process
(even ``kill -9``) right after loses nothing. The network sinks put each event
in an on-disk queue (:class:`.queue.DiskQueue`) first; a thread sends the
queue in order, retrying with backoff while the service is away, and deletes
a record only once the service has acknowledged it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import schema
from .queue import DiskQueue

__all__ = ["Sink", "SinkError", "Fanout", "open_sink", "default_queue_dir",
           "StdoutSink", "JsonlSink", "SqliteSink", "MqttSink", "WebhookSink", "PostgresSink"]

logger = logging.getLogger("maskhog.events")

SCHEMES = "-, sqlite:///FILE, jsonl:///FILE, mqtt://HOST[:PORT]/PREFIX, http(s)://URL or postgresql://..."


class SinkError(Exception):
    """A sink URL that cannot be used, or a sink that cannot keep an event."""


class Sink:
    """Keeps events. ``write`` takes one event record; ``close`` ends the sink."""

    url = "-"

    def write(self, event: dict) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


# -------------------------------------------------------------- local sinks --

class StdoutSink(Sink):
    """One JSON line per event on stdout, flushed at once (for a pipe)."""

    def write(self, event):
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


class JsonlSink(Sink):
    """One JSON line per event appended to a file, flushed to the OS per event."""

    def __init__(self, path):
        self.url = f"jsonl://{path}"
        try:
            self._file = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"{path}: cannot append events ({exc.strerror})") from None

    def write(self, event):
        self._file.write(json.dumps(event) + "\n")
        self._file.flush()   # in the OS's hands: a killed process loses nothing

    def close(self):
        self._file.close()


def _prepare(db, dialect):
    """Make the tables where missing and check the schema version; return nothing."""
    cur = db.cursor()
    for statement in schema.create_statements(dialect):
        cur.execute(statement)
    cur.execute("SELECT version FROM schema_version")
    found = cur.fetchall()
    if not found:
        cur.execute("INSERT INTO schema_version (version) VALUES (%d)" % schema.SCHEMA_VERSION)
    elif max(v for (v,) in found) > schema.SCHEMA_VERSION:
        raise SinkError(f"this events database has schema version {max(v for (v,) in found)}, "
                        f"newer than this maskhog's ({schema.SCHEMA_VERSION}): upgrade maskhog")


class SqliteSink(Sink):
    """Events in a SQLite database: WAL mode, one committed transaction per event.

    WAL with ``synchronous=NORMAL`` keeps every committed event when the process
    dies (``kill -9``); after a power cut the last few may be lost
    (``synchronous=FULL`` would sync the disk per event, at a few ms each).
    """

    def __init__(self, path):
        self.url = f"sqlite://{path}"
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise SinkError(f"{path}: no such folder for the events database")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            _prepare(self._db, "sqlite")
        except sqlite3.DatabaseError as exc:
            raise SinkError(f"{path}: not a usable events database ({exc})") from None
        names = ", ".join(f'"{n}"' for n in schema.NAMES)
        self._insert = f"INSERT OR IGNORE INTO events ({names}) VALUES ({', '.join('?' * len(schema.NAMES))})"

    def write(self, event):
        try:
            self._db.execute(self._insert, schema.row(event))   # autocommit: on disk on return
        except sqlite3.Error as exc:
            raise SinkError(f"{self.path}: cannot write an event ({exc})") from None

    def close(self):
        self._db.close()


# ------------------------------------------------------------- queued sinks --

def default_queue_dir() -> Path:
    """Where the on-disk queues live: ``$MASKHOG_QUEUE_DIR``, else ``~/.local/state/maskhog/queues``."""
    if os.environ.get("MASKHOG_QUEUE_DIR"):
        return Path(os.environ["MASKHOG_QUEUE_DIR"])
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "maskhog" / "queues"


class Unavailable(Exception):
    """The service cannot take records now: try again later."""


class QueuedSink(Sink):
    """Events through an on-disk queue to a service, by a sender thread.

    Subclasses give :meth:`deliver`: send a batch of ``(seq, payload)`` and
    return the sequence numbers the service acknowledged, or raise
    :class:`Unavailable`. Between failed tries the sender waits ``retry``
    seconds, doubling up to ``retry_max``.
    """

    batch = 100
    retry, retry_max = 0.5, 30.0

    def __init__(self, url: str, queue_dir=None, *, drain: float = 5.0, role: str = "events"):
        self.url, self.drain = url, drain
        # One queue per URL and role: the same broker as a sink and as an --on-allow action
        # are two queues, never two senders on one. Hashed: the URL may hold a password.
        key = hashlib.sha256(f"{role} {url}".encode()).hexdigest()[:16]
        folder = Path(queue_dir) if queue_dir else default_queue_dir()
        try:
            self.queue = DiskQueue(folder / f"{urlsplit(url).scheme}-{key}.db")
        except (OSError, sqlite3.Error) as exc:
            raise SinkError(f"{folder}: cannot keep the queue for {self.safe_url} ({exc})") from None
        self.delivered = 0
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._send, name=f"sink {self.safe_url}", daemon=True)
        self._thread.start()

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        parts = urlsplit(self.url)
        if parts.password:
            return self.url.replace(f":{parts.password}@", ":***@")
        return self.url

    def write(self, event):
        try:
            self.queue.put(json.dumps(event))
        except sqlite3.Error as exc:
            raise SinkError(f"{self.queue.path}: cannot queue an event ({exc})") from None

    def deliver(self, batch) -> list[int]:
        raise NotImplementedError

    def disconnect(self) -> None:
        """Let go of the connection (after a failure, and at the end)."""

    def _send(self):
        wait, down_since = self.retry, None
        deadline = None
        while True:
            if self._closing.is_set() and deadline is None:
                deadline = time.monotonic() + self.drain
            batch = self.queue.peek(self.batch)
            if not batch:
                if deadline is not None:
                    return
                self.queue.wait(0.5)
                continue
            try:
                done = self.deliver(batch)
                failure = None
            except Unavailable as exc:
                done, failure = [], str(exc)
            if done:
                self.queue.ack(done)
                self.delivered += len(done)
            if failure is None and done:
                if down_since is not None:
                    logger.info("%s is back: sending %d queued events", self.safe_url, len(self.queue))
                wait, down_since = self.retry, None
                continue
            self.disconnect()
            if down_since is None:
                down_since = time.monotonic()
                logger.warning("%s: %s; events wait in %s", self.safe_url, failure or "not acknowledged",
                               self.queue.path)
            if deadline is not None and time.monotonic() + wait > deadline:
                return
            self._closing.wait(wait) if deadline is None else time.sleep(wait)
            wait = min(wait * 2, self.retry_max)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty (``True``) or ``timeout`` seconds pass."""
        end = time.monotonic() + timeout
        while len(self.queue) and time.monotonic() < end and self._thread.is_alive():
            time.sleep(0.02)
        return not len(self.queue)

    def close(self):
        """Send what is queued for up to ``drain`` seconds; what is left is sent next time."""
        self._closing.set()
        with self.queue.added:
            self.queue.added.notify_all()
        self._thread.join()
        left = len(self.queue)
        if left:
            logger.warning("%s: %d events not sent yet; kept in %s for the next run",
                           self.safe_url, left, self.queue.path)
        self.disconnect()
        self.queue.close()


class MqttSink(QueuedSink):
    """Events published to an MQTT broker with QoS 1 (paho-mqtt).

    Topic ``<prefix>/<location>/<camera>/events`` (an ``--on-allow`` action's:
    ``.../allow``, and so on); ``.../status`` holds a retained ``online`` while
    the sink is connected and ``offline`` after, published by the broker as the
    last will if the process dies. Each connection is a new client: messages in
    flight on a lost one are sent again from the on-disk queue only, never also
    by paho.

    Nothing is sent twice. QoS 1 alone is "at least once": a message the
    broker took whose acknowledgement was lost (``kill -9`` at that instant, a
    dropped connection) stays queued and would go again. So every event is
    published retained, and the broker keeps the newest of each topic; after
    each connect, before sending, the sink reads those back and drops the
    queued records up to the newest one the broker has (the queue goes out in
    order on one connection, so the broker has every record before it too).
    A subscriber sees each event once; one that subscribes later also gets the
    camera's newest event at once, flagged retained (a dashboard's last state;
    a counter skips retained messages).
    """

    def __init__(self, url, *, camera, location, queue_dir=None, drain=5.0, role="events"):
        try:
            import paho.mqtt.client  # noqa: F401
        except ImportError:
            raise SinkError("mqtt:// sinks need paho-mqtt: pip install 'maskhog[events]'") from None
        parts = urlsplit(url)
        if not parts.hostname:
            raise SinkError(f"{url}: no broker host (mqtt://HOST[:PORT]/PREFIX)")
        try:
            self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            raise SinkError(f"{url}: the port is not a number") from None
        self.host, self.tls = parts.hostname, parts.scheme == "mqtts"
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.prefix = parts.path.strip("/") or "maskhog"
        for name, value in (("camera", camera), ("location", location)):
            if not value or any(c in value for c in "/+#"):
                raise SinkError(f"{name} {value!r} cannot be part of an MQTT topic (no '/', '+' or '#')")
        self.status_topic = f"{self.prefix}/{location}/{camera}/status"
        # Its own topic for each queue, so the newest retained event of one is never
        # taken for another's (an --on-allow action to the same broker sends allow events too).
        self.leaf = "events" if role == "events" else role.removeprefix("on-")
        self.client, self.resumed = None, False
        super().__init__(url, queue_dir, drain=drain, role=role)

    def topic(self, event: dict) -> str:
        return f"{self.prefix}/{event['location']}/{event['camera']}/{self.leaf}"

    def _connect(self):
        import paho.mqtt.client as mqtt

        connected = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, clean_session=True)
        client.on_connect = lambda c, u, flags, rc, props=None: rc == 0 and connected.set()
        client.will_set(self.status_topic, "offline", qos=1, retain=True)
        if self.user:
            client.username_pw_set(self.user, self.password)
        if self.tls:
            client.tls_set()
        try:
            client.connect(self.host, self.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise Unavailable(f"cannot reach the broker ({exc})") from None
        client.loop_start()
        if not connected.wait(5.0):
            client.loop_stop()
            raise Unavailable("the broker did not accept the connection")
        client.publish(self.status_topic, "online", qos=1, retain=True)
        self.client, self.resumed = client, False

    def deliver(self, batch):
        if self.client is None:
            self._connect()
        if not self.resumed:
            there = self._already_there(batch)
            self.resumed = True
            if there:
                logger.info("%s already has %d queued events: not sent again", self.safe_url, len(there))
                return there
        sent = []
        for seq, payload in batch:
            info = self.client.publish(self.topic(json.loads(payload)), payload, qos=1, retain=True)
            if info.rc != 0:
                break
            sent.append((seq, info))
        end = time.monotonic() + 10.0
        for _, info in sent:
            try:
                info.wait_for_publish(max(0.0, end - time.monotonic()))
            except (RuntimeError, ValueError):
                break
        done = [seq for seq, info in sent if info.is_published()]
        if len(done) < len(batch) and not done:
            raise Unavailable("the broker did not acknowledge")
        return done

    def _already_there(self, batch) -> list[int]:
        """The sequence numbers of the queued records the broker already has (see the class)."""
        records = [(seq, json.loads(payload)) for seq, payload in batch]
        newest = self._retained({self.topic(event) for _, event in records})
        seq_of = {event.get("event_id"): seq for seq, event in records}
        had = [seq_of[event_id] for event_id in newest if event_id in seq_of]
        return [seq for seq, _ in records if seq <= max(had)] if had else []

    def _retained(self, topics) -> list:
        """The ``event_id`` of the retained message on each of ``topics`` that has one."""
        found, acked = [], set()
        client = self.client

        def on_message(c, userdata, message):
            if message.retain:
                with contextlib.suppress(ValueError, AttributeError):
                    found.append(json.loads(message.payload).get("event_id"))

        client.on_message = on_message
        client.on_subscribe = lambda c, userdata, mid, *rest: acked.add(mid)
        _, first = client.subscribe([(topic, 1) for topic in sorted(topics)])
        # A broker sends a subscription's retained messages before it answers the next
        # SUBSCRIBE: once this one is acknowledged, all of them have arrived.
        probe = f"{self.prefix}/maskhog-probe/{uuid.uuid4().hex}"
        _, last = client.subscribe(probe, 1)
        end = time.monotonic() + 5.0
        while last not in acked and time.monotonic() < end and client.is_connected():
            time.sleep(0.005)
        client.unsubscribe(sorted(topics) + [probe])
        client.on_message = None
        if last not in acked or first not in acked:
            raise Unavailable("the broker did not answer a subscription")
        return found

    def disconnect(self):
        client, self.client = self.client, None
        if client is not None:
            if client.is_connected() and self._closing.is_set():
                client.publish(self.status_topic, "offline", qos=1, retain=True).wait_for_publish(2.0)
            client.disconnect()
            client.loop_stop()


class WebhookSink(QueuedSink):
    """Each event POSTed as JSON to a URL; retried with backoff until a 2xx answer.

    An answer of 4xx (but 408 or 429) means the receiver will never take that
    record: it moves to the queue file's ``refused`` table, and the rest go on.
    """

    timeout = 10.0

    def deliver(self, batch):
        import urllib.error
        import urllib.request

        done = []
        for seq, payload in batch:
            request = urllib.request.Request(self.url, data=payload.encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    answer.read()
                done.append(seq)
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    logger.warning("%s refused an event (HTTP %d); kept in %s", self.safe_url, exc.code,
                                   self.queue.path)
                    self.queue.refuse(seq, payload, f"HTTP {exc.code}")
                    continue
                if done:
                    return done
                raise Unavailable(f"HTTP {exc.code}") from None
            except (urllib.error.URLError, OSError) as exc:
                if done:
                    return done
                raise Unavailable(f"cannot reach it ({getattr(exc, 'reason', exc)})") from None
        return done


class PostgresSink(QueuedSink):
    """Events in a PostgreSQL database (psycopg 3), with the schema SQLite has.

    Inserts skip an ``event_id`` already there, so a batch sent again after a
    lost acknowledgement is kept once; many sites can write to one database.
    """

    def __init__(self, url, *, queue_dir=None, drain=5.0, role="events"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise SinkError("postgresql:// sinks need psycopg: pip install 'maskhog[events]'") from None
        self.db = None
        super().__init__(url, queue_dir, drain=drain, role=role)

    def deliver(self, batch):
        import psycopg

        try:
            if self.db is None:
                self.db = psycopg.connect(self.url, connect_timeout=5)
                _prepare(self.db, "postgresql")
                self.db.commit()
            names = ", ".join(f'"{n}"' for n in schema.NAMES)
            with self.db.cursor() as cur:
                cur.executemany(f"INSERT INTO events ({names}) VALUES ({', '.join(['%s'] * len(schema.NAMES))})"
                                " ON CONFLICT (event_id) DO NOTHING",
                                [schema.row(json.loads(p)) for _, p in batch])
            self.db.commit()
        except psycopg.Error as exc:
            raise Unavailable(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) \
                from None
        return [seq for seq, _ in batch]

    def disconnect(self):
        db, self.db = self.db, None
        if db is not None:
            try:
                db.close()
            except Exception:   # a broken connection may fail to close; it is gone either way
                pass


# ----------------------------------------------------------------- opening --

def open_sink(url: str, *, camera: str = "camera", location: str = "default", queue_dir=None,
              role: str = "events") -> Sink:
    """The sink for a URL (see the table above); a path without a scheme is a SQLite file,
    or a JSON-lines file when it ends in ``.jsonl``.

    ``role`` names the queue of a queued sink (``events``, or ``on-allow`` for an action).

    Raises
    ------
    SinkError
        An unknown scheme, a missing path or host, or a missing optional package.
    """
    if url == "-":
        return StdoutSink()
    if "://" not in url:
        path = Path(url)
        return JsonlSink(path) if path.suffix == ".jsonl" else SqliteSink(path)
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("sqlite", "jsonl"):
        path = url.split("://", 1)[1]
        if not path:
            raise SinkError(f"{url}: no file (use {scheme}:///path/to/file)")
        return SqliteSink(Path(path)) if scheme == "sqlite" else JsonlSink(Path(path))
    if scheme in ("mqtt", "mqtts"):
        return MqttSink(url, camera=camera, location=location, queue_dir=queue_dir, role=role)
    if scheme in ("http", "https"):
        if not urlsplit(url).hostname:
            raise SinkError(f"{url}: no host")
        return WebhookSink(url, queue_dir, role=role)
    if scheme in ("postgresql", "postgres"):
        return PostgresSink(url, queue_dir=queue_dir, role=role)
    raise SinkError(f"{url}: unknown event sink {scheme + '://'!r}; use {SCHEMES}")


class Fanout:
    """Every event to every sink, or to the sinks that take its kind.

    ``routes`` holds ``(sink, kinds)`` pairs; ``kinds`` ``None`` takes all.
    """

    def __init__(self, routes=()):
        self.routes = list(routes)

    def add(self, sink: Sink, kinds=None) -> None:
        self.routes.append((sink, None if kinds is None else frozenset(kinds)))
        # Stdout last: once an event is printed (reported), every other sink has kept it.
        self.routes.sort(key=lambda route: isinstance(route[0], StdoutSink))

    def write(self, event: dict) -> None:
        for sink, kinds in self.routes:
            if kinds is None or event["event"] in kinds:
                sink.write(event)

    def close(self) -> None:
        errors = []
        for sink, _ in self.routes:
            try:
                sink.close()
            except Exception as exc:   # close every sink even if one fails
                errors.append(f"{sink.url}: {exc}")
        if errors:
            raise SinkError("; ".join(errors))
