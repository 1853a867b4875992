"""`newsletter issue stats` and `newsletter serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.store.tables import delivery_events
from pipeline.subscribers.service import sync_lists
from tests.conftest import TEST_SECRET, free_port
from tests.web.helpers import delivered_to, sent_edition


def _env(project_dir: Path, db_url: str) -> dict[str, str]:
    return {
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_CONFIG": str(project_dir / "newsletter.toml"),
        "NEWSLETTER_DATABASE_URL": db_url,
    }


def _events(engine: Engine, settings: Settings) -> None:
    sync_lists(engine, settings)
    eid = sent_edition(engine, "2026-11-01-serums")
    now = FixedClock().now()
    people = [delivered_to(engine, eid, f"p{n}@example.com")[1] for n in range(4)]
    rows = [
        ("delivered", people[0]),
        ("delivered", people[1]),
        ("delivered", people[2]),
        ("delivered", people[3]),
        ("open", people[0]),
        ("open", people[0]),
        ("open", people[1]),
        ("click", people[1]),
        ("unsubscribe", people[2]),
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(delivery_events),
            [
                {"delivery_id": d, "edition_id": eid, "event": e, "detail": {}, "occurred_at": now}
                for e, d in rows
            ],
        )


def test_issue_stats_as_json_and_as_a_table(
    project_dir: Path, db_url: str, engine: Engine, settings: Settings
) -> None:
    _events(engine, settings)
    env = _env(project_dir, db_url)
    result = CliRunner().invoke(app, ["issue", "stats", "2026-11-01-serums", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("sent", "delivered", "opens", "clicks", "unsubscribes")} == {
        "sent": 4,
        "delivered": 4,
        "opens": 2,
        "clicks": 1,
        "unsubscribes": 1,
    }
    assert (data["bounces"], data["complaints"], data["total_opens"]) == (0, 0, 3)
    assert data["rates"] == {
        "delivered": 1.0,
        "opens": 0.5,
        "clicks": 0.25,
        "click_to_open": 0.5,
        "bounces": 0.0,
        "complaints": 0.0,
        "unsubscribes": 0.25,
    }

    table = CliRunner().invoke(app, ["issue", "stats", "2026-11-01-serums"], env=env)
    assert table.exit_code == 0, table.output
    assert "Opens (unique)" in table.stdout
    assert "50.0%" in table.stdout
    assert table.stdout.endswith(
        "Rates are shares of messages delivered; a click counts as an open. Machines "
        "(privacy proxies, prefetches, link scanners) are left out of the people columns. "
        "Human events: 3 opens, 1 clicks.\n"
    )


def test_issue_stats_of_an_unknown_issue(project_dir: Path, db_url: str) -> None:
    env = _env(project_dir, db_url)
    result = CliRunner().invoke(app, ["issue", "stats", "never-sent"], env=env)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no edition 'never-sent' in the database (run 'newsletter issue send never-sent' "
        "or 'newsletter issue schedule never-sent')\n"
    )


@pytest.mark.slow
def test_serve_runs_the_app(project_dir: Path) -> None:
    port = free_port()  # the command is under test, not the database: SQLite only
    env = {**os.environ, **_env(project_dir, f"sqlite:///{project_dir}/var/serve.db")}
    command = [str(Path(sys.executable).parent / "newsletter"), "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command], cwd=project_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        answer = None
        for _ in range(400):  # until uvicorn listens (or the process dies)
            if process.poll() is not None:
                break
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/subscribe", timeout=5)
                break
            except httpx.ConnectError:
                time.sleep(0.025)
        assert answer is not None, "newsletter serve did not start"
        assert answer.status_code == 200
        assert "Subscribe to Glow Notes" in answer.text
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert f"Serving Glow Notes on http://127.0.0.1:{port}" in output


def test_serve_on_a_port_in_use_says_so(project_dir: Path) -> None:
    """Another program listens on the port: one error line with the fix, exit code 1."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        db = f"sqlite:///{project_dir}/var/serve.db"
        result = CliRunner().invoke(app, ["serve", "--port", str(port)], env=_env(project_dir, db))
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # no "Serving ..." line before the error
    assert result.stderr == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
        " (stop the program using it, or choose another --port ([web] port))\n"
    )
