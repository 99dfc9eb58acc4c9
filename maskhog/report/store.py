"""An events database to read: SQLite (a path or ``sqlite:///path``) or PostgreSQL.

The report never writes: a SQLite file is opened without the right to create
it, and ``live`` may go on writing meanwhile (WAL lets readers in).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from ..events.event import utc_text

__all__ = ["Store", "StoreError", "open_store"]


class StoreError(Exception):
    """An events database that cannot be read."""


class Store:
    """A connection and the SQL pieces that differ between SQLite and PostgreSQL.

    Queries are written with ``?`` placeholders and :meth:`rows` adapts them.
    """

    def __init__(self, connection, dialect: str, name: str, errors=sqlite3.Error):
        self.connection, self.dialect, self.name = connection, dialect, name
        self.errors = errors   # the driver's base exception

    def rows(self, sql: str, params=()) -> list[tuple]:
        if self.dialect == "postgresql":
            sql = sql.replace("%", "%%").replace("?", "%s")
        try:
            cur = self.connection.cursor()
            cur.execute(sql, tuple(params))
            found = cur.fetchall()
            cur.close()
        except self.errors as exc:
            if self.dialect == "postgresql":
                self.connection.rollback()
            raise StoreError(f"{self.name}: cannot read events ({str(exc).strip().splitlines()[0]})") from None
        if self.dialect == "postgresql":
            self.connection.commit()   # end the read's transaction: the next one sees new events
        return found

    def time(self, moment: datetime):
        """A UTC time as the ``time`` column holds it, for comparisons."""
        if self.dialect == "postgresql":
            return moment.astimezone(timezone.utc)
        return utc_text(moment)

    def epoch(self, column: str) -> str:
        """SQL for ``column`` as whole seconds since 1970 (UTC)."""
        if self.dialect == "postgresql":
            return f"CAST(floor(extract(epoch FROM {column})) AS BIGINT)"
        return f"CAST(strftime('%s', {column}) AS INTEGER)"

    def seconds_between(self, start: str, end: str) -> str:
        """SQL for the seconds from ``start`` to ``end``."""
        if self.dialect == "postgresql":
            return f"extract(epoch FROM ({end}) - ({start}))"
        return f"(julianday({end}) - julianday({start})) * 86400.0"

    def text_time(self, column: str) -> str:
        """SQL for ``column`` as ISO 8601 UTC text with milliseconds and a ``Z``."""
        if self.dialect == "postgresql":
            return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
        return column

    def close(self) -> None:
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_store(url: str) -> Store:
    """Open an events database for reading.

    Parameters
    ----------
    url : str
        A SQLite file (a path or ``sqlite:///path``) or ``postgresql://...``.

    Raises
    ------
    StoreError
        No such file, not an events database, no server, or psycopg missing.
    """
    if url.startswith(("postgresql://", "postgres://")):
        try:
            import psycopg
        except ImportError:
            raise StoreError("postgresql:// needs psycopg: pip install 'maskhog[events]'") from None
        try:
            connection = psycopg.connect(url, connect_timeout=5)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the events database ({str(exc).strip().splitlines()[0]})") \
                from None
        store = Store(connection, "postgresql", url.split("@")[-1], psycopg.Error)
    else:
        path = Path(url.split("://", 1)[1] if url.startswith("sqlite://") else url)
        if not path.is_file():
            raise StoreError(f"{path}: no such events database")
        try:
            # mode=rw: never create a database that is not there (ro would stop WAL readers
            # from opening a database whose writer has gone).
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open ({exc})") from None
        store = Store(connection, "sqlite", str(path))
    try:
        found = store.rows("SELECT 1 FROM information_schema.tables WHERE table_name = 'events'"
                           if store.dialect == "postgresql" else
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'")
    except StoreError:
        store.close()
        raise
    if not found:
        store.close()
        raise StoreError(f"{store.name}: not an events database (no events table)")
    return store
