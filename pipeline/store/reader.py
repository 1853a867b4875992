"""Read-only queries without SQLAlchemy, for the listings that must start at once.

Importing SQLAlchemy takes about 0.1 s, a third of ``newsletter issue list``. A listing
reads a few tables in plain SQL through a ``Reader`` instead:

    open_current(url)     a SQLite file whose schema is current (``store.db.HEAD``) read
                          through the sqlite3 module alone; None for anything else (no
                          file yet, an older schema, PostgreSQL): the caller then opens
                          the engine (``open_database`` creates or upgrades the schema)
    EngineReader(engine)  the same queries through an engine
    as_reader(db)         a Reader as it is, an engine wrapped
    utc(value)            a stored time as ``tables.UTCDateTime`` gives it back
                          (``utc_or_none`` for a column that may be NULL)

Both readers run the same text and hand back each row as a dict of the driver's values
(by the column names, or the ``AS`` names), so a query is written once for SQLite and
PostgreSQL: no parameters (paramstyles differ), identifiers that are SQL words quoted
(``"by"``), times through ``utc``. Queries that change anything use SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.store.db import HEAD

if TYPE_CHECKING:
    from sqlalchemy import Engine

Row = dict[str, Any]

_SQLITE = "sqlite:///"
_BUSY_TIMEOUT = 60  # seconds, as store.db.connect


class Reader(ABC):
    """Runs a read-only query and returns its rows (SQLiteReader, EngineReader)."""

    @abstractmethod
    def rows(self, sql: str) -> list[Row]:
        """The rows of ``sql``, each a dict by column name."""


class SQLiteReader(Reader):
    """A SQLite file read through the sqlite3 module (a connection per query, like the
    engine's NullPool; the file's WAL mode was set when it was created)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str) -> list[Row]:
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT)
        try:
            cursor = conn.execute(sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, values, strict=True)) for values in cursor]
        finally:
            conn.close()


class EngineReader(Reader):
    """The same queries through an SQLAlchemy engine (driver values, not column types)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def rows(self, sql: str) -> list[Row]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.exec_driver_sql(sql)]


def as_reader(db: Engine | Reader) -> Reader:
    return db if isinstance(db, Reader) else EngineReader(db)


def _sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL; None for anything SQLAlchemy would
    read differently (query options, escapes, memory) or another database."""
    if not url.startswith(_SQLITE) or any(c in url for c in "?%#"):
        return None
    path = url.removeprefix(_SQLITE)
    return Path(path) if path and path != ":memory:" else None


def _revision(path: Path) -> str | None:
    conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        conn.close()
    return str(row[0]) if row else None


def open_current(url: str) -> SQLiteReader | None:
    """A reader of the SQLite file of ``url`` when its schema is current; None when the
    database must be opened with ``store.db.open_database`` (which creates or upgrades it,
    and reports a damaged file in its own words)."""
    path = _sqlite_file(url)
    if path is None or not path.is_file():
        return None
    try:
        current = _revision(path) == HEAD
    except sqlite3.Error:  # no schema yet (no alembic_version table), or damaged
        return None
    return SQLiteReader(path) if current else None


def utc(value: str | datetime) -> datetime:
    """A time column's driver value as an aware UTC datetime, as ``tables.UTCDateTime``
    gives it back (SQLite gives the text it stored in UTC; PostgreSQL an aware datetime)."""
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def utc_or_none(value: str | datetime | None) -> datetime | None:
    """``utc`` of a column that may be NULL."""
    return None if value is None else utc(value)
