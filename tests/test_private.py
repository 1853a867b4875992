"""The database, the outbox and the signing key are created readable by their owner only
(files 0600, folders 0700), even under the usual umask 022: as `make demo` makes them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.sending.conftest import add_audience

SLUG = "2026-12-01-microneedling"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_demo_files_are_private(project_dir: Path, umask_022: None) -> None:
    runner = CliRunner()
    env = {"NEWSLETTER_SECRET_KEY": None, "NEWSLETTER_DATABASE_URL": None, "COLUMNS": "200"}
    config = str(project_dir / "newsletter.toml")
    assert runner.invoke(app, ["--config", config, "db", "upgrade"], env=env).exit_code == 0
    var = project_dir / "var"
    from pipeline.store.db import connect

    engine = connect(f"sqlite:///{var / 'newsletter.db'}")
    add_audience(engine, 2)
    engine.dispose()
    sent = runner.invoke(app, ["--config", config, "issue", "send", SLUG, "--yes"], env=env)
    assert sent.exit_code == 0, sent.output
    outbox = var / "outbox"
    messages = list((outbox / "new").iterdir())
    assert len(messages) == 2
    assert {p.name: mode(p) for p in (var, outbox, outbox / "new", outbox / "tmp")} == {
        "var": 0o700,
        "outbox": 0o700,
        "new": 0o700,
        "tmp": 0o700,
    }
    files = [var / "secret.key", var / "newsletter.db", *messages]
    assert {oct(mode(p)) for p in files} == {"0o600"}
    assert mode(project_dir) == 0o755  # a folder that existed is left as it was
