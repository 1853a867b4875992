"""`newsletter db status` and `newsletter db upgrade` on an empty, an old and a current
database (SQLite file, or a PostgreSQL schema of its own)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.store.db import HEAD, current_revision, ensure_schema
from tests.conftest import TEST_SECRET
from tests.store.test_upgrade import empty_engine

__all__ = ["empty_engine"]  # the fixture, used below


def run(project_dir: Path, engine: Engine, *args: str) -> tuple[int, str]:
    url = engine.url.render_as_string(hide_password=False)
    result: Result = CliRunner().invoke(
        app,
        ["--config", str(project_dir / "newsletter.toml"), "db", *args],
        env={
            "NEWSLETTER_SECRET_KEY": TEST_SECRET,
            "NEWSLETTER_DATABASE_URL": url,
            "COLUMNS": "40",  # narrower than any line: each is still one line, never wrapped
        },
    )
    return result.exit_code, result.stdout.rstrip("\n")


def test_status_and_upgrade_of_an_empty_database(project_dir: Path, empty_engine: Engine) -> None:
    where = empty_engine.url.render_as_string(hide_password=True)
    assert run(project_dir, empty_engine, "status") == (
        0,
        f"{where}: revision none (newest {HEAD}); needs 'newsletter db upgrade'",
    )
    assert current_revision(empty_engine) is None  # status changes nothing
    assert run(project_dir, empty_engine, "upgrade") == (
        0,
        f"Database {where} upgraded from empty to {HEAD}.",
    )
    assert current_revision(empty_engine) == HEAD
    assert run(project_dir, empty_engine, "upgrade") == (
        0,
        f"Database {where} is up to date (revision {HEAD}).",
    )
    assert run(project_dir, empty_engine, "status") == (
        0,
        f"{where}: revision {HEAD} (newest {HEAD}); up to date",
    )


def test_status_and_upgrade_of_an_old_database(project_dir: Path, empty_engine: Engine) -> None:
    ensure_schema(empty_engine, revision="0004")
    where = empty_engine.url.render_as_string(hide_password=True)
    assert run(project_dir, empty_engine, "status") == (
        0,
        f"{where}: revision 0004 (newest {HEAD}); needs 'newsletter db upgrade'",
    )
    assert run(project_dir, empty_engine, "upgrade") == (
        0,
        f"Database {where} upgraded from 0004 to {HEAD}.",
    )
    assert current_revision(empty_engine) == HEAD


def test_a_database_url_of_another_kind_is_an_error_not_a_traceback(project_dir: Path) -> None:
    """A MySQL URL, a mistyped one or 'sqlite://' with two slashes: one line, how to fix."""
    for url in ("mysql://news@127.0.0.1/news", "newsletter.db", "sqlite://var/newsletter.db"):
        result = CliRunner().invoke(
            app,
            ["--config", str(project_dir / "newsletter.toml"), "db", "status"],
            env={"NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_DATABASE_URL": url},
        )
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.stderr == (
            f"Error: the database URL {url!r} is neither SQLite nor PostgreSQL (write"
            " sqlite:///var/newsletter.db or postgresql+psycopg://USER@HOST:5432/DB in"
            " [database] url of newsletter.toml or NEWSLETTER_DATABASE_URL)\n"
        )
