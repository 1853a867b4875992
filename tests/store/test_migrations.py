"""The migrations create exactly the tables in pipeline.store.tables, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from pipeline.errors import StoreError
from pipeline.store.db import HEAD, connect, current_revision, ensure_schema, head_revision
from pipeline.store.tables import metadata


def test_migrated_schema_matches_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_head_constant_is_alembics_head(engine: Engine) -> None:
    assert head_revision(engine) == HEAD


def test_database_is_at_head_and_upgrade_is_idempotent(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    ensure_schema(engine)
    assert current_revision(engine) == head_revision(engine)


def test_unusable_sqlite_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as err:
        connect(f"sqlite:///{blocker}/newsletter.db")
    assert str(err.value) == (
        f"cannot create the folder for the database {blocker}/newsletter.db: File exists "
        "(point [database] url in newsletter.toml at a writable folder)"
    )
