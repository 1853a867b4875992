"""The migrations create exactly the tables in pipeline.store.tables, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from pipeline.store.db import current_revision, ensure_schema, head_revision
from pipeline.store.tables import metadata


def test_migrated_schema_matches_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_database_is_at_head_and_upgrade_is_idempotent(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    ensure_schema(engine)
    assert current_revision(engine) == head_revision(engine)
