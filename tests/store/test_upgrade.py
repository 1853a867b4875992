"""A database made by the first migration, filled, then upgraded to the newest: nothing lost."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from pipeline.store.db import connect, current_revision, ensure_schema, head_revision
from pipeline.subscribers.audience import stream_audience
from pipeline.subscribers.service import get_subscriber, is_suppressed
from pipeline.subscribers.suppression import hash_with_salt
from tests.conftest import PG_ENV

SALT = "f" * 64
ROWS = {
    "app_meta": "INSERT INTO app_meta (key, value) VALUES ('suppression_salt', :salt)",
    "lists": "INSERT INTO lists (id, slug, name, description, double_opt_in, created_at) VALUES"
    " (1, 'news', 'Beauty news', 'Now and then', :yes, '2026-01-01 10:00:00'),"
    " (2, 'beauty-tips', 'Beauty tips', '', :no, '2026-01-01 10:00:00')",
    "subscribers": "INSERT INTO subscribers (id, email, name, attributes, status, created_at,"
    " updated_at) VALUES"
    " (1, 'ann@example.com', 'Ann Ågren', '{\"city\": \"Umeå\"}', 'active',"
    " '2026-01-02 09:00:00', '2026-01-02 09:00:00'),"
    " (2, 'bo@example.org', 'Bo', '{}', 'unsubscribed', '2026-01-03 09:00:00',"
    " '2026-01-04 09:00:00')",
    "subscriptions": "INSERT INTO subscriptions (subscriber_id, list_id, status, consent_at,"
    " consent_method, consent_text, consent_ip, confirmed_at, confirm_ip, unsubscribed_at,"
    " updated_at) VALUES"
    " (1, 1, 'confirmed', '2026-01-02 09:00:00', 'web', 'Yes please', '192.0.2.1',"
    " '2026-01-02 09:05:00', '192.0.2.1', NULL, '2026-01-02 09:05:00'),"
    " (2, 1, 'unsubscribed', '2026-01-03 09:00:00', 'import', 'old.csv', NULL, NULL, NULL,"
    " '2026-01-04 09:00:00', '2026-01-04 09:00:00')",
    "suppressions": "INSERT INTO suppressions (address_hash, reason, source, created_at) VALUES"
    " (:bo, 'unsubscribed', 'web', '2026-01-04 09:00:00'),"
    " (:gone, 'erased', '', '2026-01-05 09:00:00')",
    "subscription_log": "INSERT INTO subscription_log (subscriber_id, list_id, action,"
    " old_status, new_status, method, detail, ip, at) VALUES"
    " (1, 1, 'subscribe', NULL, 'unconfirmed', 'web', '{}', '192.0.2.1', '2026-01-02 09:00:00'),"
    " (1, 1, 'confirm', 'unconfirmed', 'confirmed', 'web', '{}', '192.0.2.1',"
    " '2026-01-02 09:05:00')",
}


SCHEMA = "upgrade_test"


@pytest.fixture
def empty_engine(db_kind: str, tmp_path: Path, _pg_engine: Engine | None) -> Iterator[Engine]:
    """An empty database: a new SQLite file, or on PostgreSQL a schema of its own (the
    search path points there), so the rest of the suite's database is not touched."""
    if db_kind == "sqlite":
        engine = connect(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    url = os.environ[PG_ENV]
    admin = connect(url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    joiner = "&" if "?" in url else "?"
    engine = connect(f"{url}{joiner}options=-csearch_path%3D{SCHEMA}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
        admin.dispose()


def _snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    order = {
        "app_meta": "key",
        "lists": "id",
        "subscribers": "id",
        "subscriptions": "subscriber_id, list_id",
        "suppressions": "address_hash",
        "subscription_log": "id",
    }
    columns = {
        "subscribers": "id, email, name, status, created_at",
        "subscription_log": "id, subscriber_id, list_id, action, old_status, new_status, ip, at",
    }
    with engine.connect() as conn:
        return {
            table: [
                tuple(str(v) for v in row)
                for row in conn.execute(
                    text(f"SELECT {columns.get(table, '*')} FROM {table} ORDER BY {key}")
                )
            ]
            for table, key in order.items()
        }


def test_upgrade_from_the_first_migration_keeps_everything(empty_engine: Engine) -> None:
    engine = empty_engine
    ensure_schema(engine, "0001")
    assert current_revision(engine) == "0001"
    params = {
        "salt": SALT,
        "yes": True,
        "no": False,
        "bo": hash_with_salt(SALT, "bo@example.org"),
        "gone": hash_with_salt(SALT, "gone@example.net"),
    }
    with engine.begin() as conn:
        for statement in ROWS.values():
            conn.execute(text(statement), params)
    before = _snapshot(engine)
    ensure_schema(engine)
    assert current_revision(engine) == head_revision(engine)
    assert _snapshot(engine) == before
    # And the upgraded data still works through the stage's functions.
    info = get_subscriber(engine, email="Ann@Example.com")
    assert info is not None
    assert (info.name, info.attributes, info.subscriptions) == (
        "Ann Ågren",
        {"city": "Umeå"},
        {"news": "confirmed"},
    )
    assert is_suppressed(engine, "bo@example.org") and is_suppressed(engine, "gone@example.net")
    assert [r.email for b in stream_audience(engine, ["news"]) for r in b] == ["ann@example.com"]
