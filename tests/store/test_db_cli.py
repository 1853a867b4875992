"""`newsletter db status` and `newsletter db upgrade` on an empty, an old and a current
database (SQLite file, or a PostgreSQL schema of its own)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.store.db import HEAD, current_revision, ensure_schema, migration_chain
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
    return result.exit_code, result.stdout.rstrip("\n") + result.stderr.rstrip("\n")


def test_the_chain_is_in_applied_order_not_number_order(empty_engine: Engine) -> None:
    """The ids go 0008, 0012, 0011, 0010, 0018a, 0018b, 0019a, 0012a, 0020a: the newest is not the
    highest number, and the ids are never renamed (databases record them)."""
    chain = migration_chain(empty_engine)
    assert chain[0] == "0001" and chain[-1] == HEAD == "0020a"
    assert chain[7:] == (
        "0008",
        "0012",
        "0011",
        "0010",
        "0018a",
        "0018b",
        "0019a",
        "0012a",
        "0020a",
    )
    assert len(set(chain)) == len(chain)


def test_status_and_upgrade_of_an_empty_database(project_dir: Path, empty_engine: Engine) -> None:
    where = empty_engine.url.render_as_string(hide_password=True)
    chain = " ".join(migration_chain(empty_engine))
    n = len(migration_chain(empty_engine))
    assert run(project_dir, empty_engine, "status") == (
        0,
        f"{where}: empty, {n} migration(s) to apply; run 'newsletter db upgrade' (any other"
        " command also does it).\n"
        f"To apply, in order: {chain}\n"
        "(Migration ids are names, not numbers: they apply in the order shown.)",
    )
    assert current_revision(empty_engine) is None  # status changes nothing
    assert run(project_dir, empty_engine, "upgrade") == (
        0,
        f"Database {where} upgraded from empty to {HEAD} ({n} migration(s) applied).",
    )
    assert current_revision(empty_engine) == HEAD
    assert run(project_dir, empty_engine, "upgrade") == (
        0,
        f"Database {where} is up to date (revision {HEAD}).",
    )
    assert run(project_dir, empty_engine, "status") == (
        0,
        f"{where}: up to date (at {HEAD}, the last of {n} migrations).\n"
        f"Applied, in order: {chain}\n"
        "(Migration ids are names, not numbers: they apply in the order shown.)",
    )


def test_status_and_upgrade_of_an_old_database(project_dir: Path, empty_engine: Engine) -> None:
    ensure_schema(empty_engine, revision="0011")
    where = empty_engine.url.render_as_string(hide_password=True)
    n = len(migration_chain(empty_engine))
    code, out = run(project_dir, empty_engine, "status")
    assert (code, out.splitlines()[:3]) == (
        0,
        [
            f"{where}: 6 migration(s) to apply (at 0011, the 10th of {n}); run 'newsletter db"
            " upgrade' (any other command also does it).",
            "Applied, in order: 0001 0002 0003 0004 0005 0006 0007 0008 0012 0011",
            "To apply, in order: 0010 0018a 0018b 0019a 0012a 0020a",
        ],
    )
    data = json.loads(run(project_dir, empty_engine, "status", "--json")[1])
    assert data == {
        "database": where,
        "revision": "0011",
        "newest": HEAD,
        "up_to_date": False,
        "applied": ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0012", "0011"],
        "to_apply": ["0010", "0018a", "0018b", "0019a", "0012a", "0020a"],
    }
    assert run(project_dir, empty_engine, "upgrade") == (
        0,
        f"Database {where} upgraded from 0011 to {HEAD} (6 migration(s) applied).",
    )
    assert current_revision(empty_engine) == HEAD
    assert json.loads(run(project_dir, empty_engine, "status", "--json")[1])["to_apply"] == []


def test_status_of_a_database_a_newer_version_upgraded(
    project_dir: Path, empty_engine: Engine
) -> None:
    ensure_schema(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0031'"))
    code, out = run(project_dir, empty_engine, "status")
    assert code == 1
    assert "at revision 0031, which this version of newsletter does not know" in out
    assert "run that version" in out


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
