"""The events table, one schema for SQLite and PostgreSQL.

A ``schema_version`` table says which layout a database has, so a later
maskhog can migrate it instead of guessing. Time and location are indexed:
reports ask "this corridor, last week".
"""

from __future__ import annotations

import json

__all__ = ["SCHEMA_VERSION", "COLUMNS", "create_statements", "row", "from_row"]

SCHEMA_VERSION = 1

# (column, SQLite type, PostgreSQL type); the box is kept as JSON text.
COLUMNS = (
    ("event_id", "TEXT NOT NULL UNIQUE", "TEXT NOT NULL UNIQUE"),
    ("time", "TEXT NOT NULL", "TIMESTAMPTZ NOT NULL"),
    ("camera", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("location", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("track_id", "INTEGER NOT NULL", "INTEGER NOT NULL"),
    ("event", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("label", "TEXT", "TEXT"),
    ("score", "REAL", "DOUBLE PRECISION"),
    ("face_px", "INTEGER", "INTEGER"),
    ("box", "TEXT", "TEXT"),
    ("frame", "INTEGER", "INTEGER"),
    ("snapshot", "TEXT", "TEXT"),
)
NAMES = tuple(c[0] for c in COLUMNS)


def create_statements(dialect: str) -> list[str]:
    """The statements that make the tables and indexes, for ``'sqlite'`` or ``'postgresql'``."""
    pg = dialect == "postgresql"
    key = "id BIGSERIAL PRIMARY KEY" if pg else "id INTEGER PRIMARY KEY AUTOINCREMENT"
    columns = ", ".join(f'"{name}" {pgtype if pg else sqltype}' for name, sqltype, pgtype in COLUMNS)
    return [
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS events ({key}, {columns})",
        'CREATE INDEX IF NOT EXISTS events_time ON events ("time")',
        'CREATE INDEX IF NOT EXISTS events_location_time ON events (location, "time")',
    ]


def row(event: dict) -> tuple:
    """An event record as the table's values, in :data:`NAMES` order."""
    return tuple(json.dumps(event[n]) if n == "box" else event.get(n) for n in NAMES)


def from_row(values) -> dict:
    """A table row (in :data:`NAMES` order) back as an event record."""
    event = dict(zip(NAMES, values))
    event["box"] = json.loads(event["box"]) if event["box"] is not None else None
    return event
