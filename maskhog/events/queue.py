"""An on-disk queue, so that events made while a service is away are sent when it returns.

A SQLite file in WAL mode: :meth:`DiskQueue.put` commits before it returns, so
a record that was reported is on disk even if the process is killed the next
instant. A sender takes the oldest records, sends them, and only then deletes
them (:meth:`DiskQueue.ack`): records leave in the order they came, and one is
deleted only once the service has acknowledged it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

__all__ = ["DiskQueue"]


class DiskQueue:
    """A first-in first-out queue of text records in a SQLite file.

    Parameters
    ----------
    path : str or Path
        The file; made with its folder if missing. Records left by an earlier
        run are sent first.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the writer and the sender thread, behind a lock:
        # SQLite serialises writers anyway, and one connection never sees "database is locked".
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS queue (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                         " payload TEXT NOT NULL)")
        # Records a service refused for good (an HTTP 400): kept to read, never resent.
        self._db.execute("CREATE TABLE IF NOT EXISTS refused (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL,"
                         " reason TEXT)")
        self._lock = threading.Lock()
        self.added = threading.Condition(self._lock)

    def put(self, payload: str) -> None:
        """Append a record; it is on disk when this returns."""
        with self._lock:
            self._db.execute("INSERT INTO queue (payload) VALUES (?)", (payload,))
            self.added.notify_all()

    def peek(self, limit: int = 100) -> list[tuple[int, str]]:
        """The oldest records, up to ``limit``, as ``(seq, payload)``; they stay queued."""
        with self._lock:
            return self._db.execute("SELECT seq, payload FROM queue ORDER BY seq LIMIT ?",
                                    (limit,)).fetchall()

    def ack(self, seqs) -> None:
        """Delete records that were delivered."""
        with self._lock:
            self._db.execute("BEGIN")   # one transaction for the batch: one disk sync, not one each
            self._db.executemany("DELETE FROM queue WHERE seq = ?", [(s,) for s in seqs])
            self._db.execute("COMMIT")

    def refuse(self, seq: int, payload: str, reason: str) -> None:
        """Move a record the service refused for good out of the queue, keeping it."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO refused VALUES (?, ?, ?)", (seq, payload, reason))
            self._db.execute("DELETE FROM queue WHERE seq = ?", (seq,))
            self._db.execute("COMMIT")

    def wait(self, timeout: float) -> None:
        """Sleep until a record is added or ``timeout`` seconds pass."""
        with self._lock:
            self.added.wait(timeout)

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
