"""The read-only path of listings (pipeline.store.reader): which databases it reads without
SQLAlchemy, and that it reads what the engine reads (times included)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, insert, select

from pipeline.store.db import HEAD
from pipeline.store.reader import (
    EngineReader,
    SQLiteReader,
    as_reader,
    open_current,
    utc,
    utc_or_none,
)
from pipeline.store.tables import issue_review_log, issue_reviews

AT = datetime(2026, 12, 1, 9, 30, 15, 250000, tzinfo=UTC)


def test_a_current_sqlite_file_is_read_without_the_engine(engine: Engine, db_url: str) -> None:
    reader = open_current(db_url)
    if engine.dialect.name == "sqlite":
        assert isinstance(reader, SQLiteReader)
        assert reader.rows("SELECT version_num FROM alembic_version") == [{"version_num": HEAD}]
    else:  # PostgreSQL is read through its engine (the caller's get_engine)
        assert reader is None


def test_anything_else_is_left_to_open_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert open_current(f"sqlite:///{missing}") is None
    assert not missing.exists()  # looking did not create it
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert open_current(f"sqlite:///{empty}") is None  # no schema yet: open_database makes it
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"not a database at all" * 100)
    assert open_current(f"sqlite:///{damaged}") is None  # open_database says what is wrong
    older = tmp_path / "older.db"
    with sqlite3.connect(older) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001')")
    conn.close()
    assert open_current(f"sqlite:///{older}") is None  # open_database upgrades it
    assert open_current(f"sqlite:///{older}?timeout=5") is None  # options: SQLAlchemy's
    assert open_current("sqlite:///:memory:") is None
    assert open_current("postgresql+psycopg://u@127.0.0.1:5432/db") is None


def test_both_readers_give_the_engine_s_times(engine: Engine, db_url: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(issue_reviews).values(slug="a", state="in_review", updated_at=AT))
        conn.execute(
            insert(issue_review_log).values(
                slug="a", action="submitted", by="Ada", at=AT, reason=None, content_hash=None
            )
        )
        typed = conn.execute(select(issue_review_log.c.at)).scalar_one()
    assert typed == AT
    query = 'SELECT slug, "by", at FROM issue_review_log'
    readers = [as_reader(engine), open_current(db_url) or EngineReader(engine)]
    for reader in readers:
        [row] = reader.rows(query)
        assert (row["slug"], row["by"]) == ("a", "Ada")
        assert utc(row["at"]) == typed and utc(row["at"]).tzinfo == UTC
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT at FROM issue_review_log").scalar_one()
    assert utc(raw) == AT
    assert as_reader(readers[1]) is readers[1]


def test_utc_reads_text_and_datetimes_as_tables_utcdatetime_does() -> None:
    assert utc_or_none(None) is None
    assert utc_or_none("2026-12-01 09:30:15.250000") == AT
    assert utc("2026-12-01 09:30:15.250000") == AT
    assert utc("2026-12-01 09:30:15") == AT.replace(microsecond=0)
    plus_one = timezone(timedelta(hours=1))
    assert utc(datetime(2026, 12, 1, 10, 30, 15, 250000, tzinfo=plus_one)) == AT
    assert utc(datetime(2026, 12, 1, 10, 30, 15, 250000, tzinfo=plus_one)).tzinfo == UTC
    assert utc(AT.replace(tzinfo=None)) == AT
