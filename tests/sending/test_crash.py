"""Fault tests with real processes: kill -9 of a sending `newsletter issue send` at random
moments, then `issue resume`. Nobody is lost; duplicates never exceed what was in flight."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipeline.sending.editions import get_edition
from pipeline.sending.ledger import count_by_status
from tests.conftest import TEST_SECRET
from tests.sending.conftest import SmtpServer, add_audience

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
SLUG = "2026-12-01-microneedling"
RECIPIENTS = 5000


def _configure(project_dir: Path, server: SmtpServer) -> None:
    config = project_dir / "newsletter.toml"
    text = config.read_text().replace(
        '[sending]\ntransport = "maildir"',
        '[sending]\ntransport = "smtp"\nbatch_size = 200\nbackoff_base = 0.0',
    )
    text += f'\n[smtp]\nhost = "{server.host}"\nport = {server.port}\nconnections = 8\n'
    config.write_text(text)


def _env(db_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_CONFIG": "",
        "COLUMNS": "200",
    }


@pytest.mark.slow
def test_kill_9_then_resume_loses_nobody(
    project_dir: Path, db_url: str, engine: Engine, smtp_server: SmtpServer
) -> None:
    _configure(project_dir, smtp_server)
    add_audience(engine, RECIPIENTS)
    rng = random.Random()
    handler = smtp_server.handler
    in_flight_at_kills = 0
    command = ["issue", "send", SLUG, "--yes"]
    for target in sorted(rng.sample(range(300, RECIPIENTS - 1500), 2)):
        handler.target = target
        handler.reached.clear()
        proc = subprocess.Popen(
            [NEWSLETTER, *command],
            cwd=project_dir,
            env=_env(db_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert handler.reached.wait(timeout=90), proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        counts = count_by_status(engine, get_edition(engine, SLUG).id)
        in_flight_at_kills += counts["in_flight"]
        assert counts["pending"] > 0
        command = ["issue", "resume", SLUG]
        if counts["in_flight"] == 0:
            continue
        # What the next run reports before it resends them:
        status = subprocess.run(
            [NEWSLETTER, "issue", "status", SLUG, "--json"],
            cwd=project_dir,
            env=_env(db_url),
            capture_output=True,
            text=True,
            check=True,
        )
        assert f'"in_flight": {counts["in_flight"]}' in status.stdout
    handler.target = 0
    done = subprocess.run(
        [NEWSLETTER, "issue", "resume", SLUG],
        cwd=project_dir,
        env=_env(db_url),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    reclaimed = re.search(r"Reclaimed (\d+) message", done.stdout)
    assert (int(reclaimed.group(1)) if reclaimed else 0) <= in_flight_at_kills
    copies = Counter(rcpt for rcpt, _ in handler.accepted)
    assert set(copies) == {f"reader{i}@example.org" for i in range(RECIPIENTS)}
    duplicates = sum(copies.values()) - len(copies)
    assert duplicates <= in_flight_at_kills
    edition = get_edition(engine, SLUG)
    assert edition.status == "sent"
    assert count_by_status(engine, edition.id)["sent"] == RECIPIENTS
