"""Real `newsletter` processes: a live run keeps its claim however slow the relay, and
concurrent `issue send` runs on one edition all tell the truth (no traceback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.sending.editions import get_edition
from pipeline.sending.engine import send_edition
from pipeline.sending.ledger import count_by_status
from tests.conftest import TEST_SECRET
from tests.sending.conftest import SmtpServer, add_audience

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
SLUG = "2026-12-01-microneedling"

pytestmark = pytest.mark.slow


def _env(db_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_CONFIG": "",
        "COLUMNS": "200",
    }


def _configure(project_dir: Path, sending: str, smtp: str = "") -> None:
    config = project_dir / "newsletter.toml"
    text = config.read_text().replace(
        '[sending]\ntransport = "maildir"', f"[sending]\n{sending.strip()}"
    )
    config.write_text(text + smtp)


def test_a_slow_relay_keeps_its_claim_past_the_lease(
    project_dir: Path,
    db_url: str,
    engine: Engine,
    smtp_server: SmtpServer,
    make_settings: Callable[..., Settings],
) -> None:
    """1 message a second, a 1.2-second lease, a second run started after the lease: the
    heartbeat keeps the first run's batch, so nobody gets two copies."""
    _configure(
        project_dir,
        'transport = "smtp"\nbatch_size = 15\nbackoff_base = 0.0\nclaim_lease_seconds = 1.2',
        f'\n[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\nconnections = 1\n',
    )
    add_audience(engine, 15)
    smtp_server.handler.delay = 1.0
    smtp_server.handler.target = 2
    first = subprocess.Popen(
        [NEWSLETTER, "issue", "send", SLUG, "--yes"],
        cwd=project_dir,
        env=_env(db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert smtp_server.handler.reached.wait(timeout=60)  # > 1.2 s after the claim
    # The second run starts at once (in this process: a second process may take longer
    # to start on a loaded machine than the first takes to finish): the same claim loop.
    settings = make_settings(**{"database.url": db_url})
    second = send_edition(settings, engine, get_edition(engine, SLUG).id, worker="second")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    copies = Counter(rcpt for rcpt, _ in smtp_server.handler.accepted)
    assert len(copies) == 15 and set(copies.values()) == {1}
    assert (second.sent, second.status) == (0, "sending")
    assert second.in_flight_elsewhere > 0  # it saw the live claim and left it alone
    assert "15 sent via smtp" in out
    assert get_edition(engine, SLUG).status == "sent"


def test_concurrent_sends_of_one_edition_snapshot_once_and_report_the_truth(
    project_dir: Path, db_url: str, engine: Engine
) -> None:
    _configure(project_dir, 'transport = "maildir"\nbatch_size = 200')
    add_audience(engine, 2000)
    slugs = [SLUG] + [f"2026-12-0{n}-microneedling" for n in (2, 3)]
    for slug in slugs[1:]:
        shutil.copytree(project_dir / "issues" / SLUG, project_dir / "issues" / slug)
    outbox = project_dir / "var" / "outbox"
    for slug in slugs:
        runs = [
            subprocess.Popen(
                [NEWSLETTER, "issue", "send", slug, "--yes"],
                cwd=project_dir,
                env=_env(db_url),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=300) for run in runs]
        for run, (out, err) in zip(runs, outputs, strict=True):
            assert run.returncode == 0, err
            assert "Traceback" not in err and "edition is frozen" not in out
        edition = get_edition(engine, slug)
        assert edition.status == "sent"
        assert count_by_status(engine, edition.id)["sent"] == 2000
        mine = [int(out.split(f"{slug}: ", 1)[1].split(" sent")[0]) for out, _ in outputs]
        assert sum(mine) == 2000  # each run says what it sent; together: everyone once
    assert len(list((outbox / "new").iterdir())) == 2000 * len(slugs)
