"""Cancel means stop, with real processes: `newsletter issue cancel` while `newsletter issue
send` is running stops the sender within one hand-off to the transport; the rows it had
claimed but not handed over are cancelled, never sent."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipeline.sending.editions import get_edition
from pipeline.sending.ledger import count_by_status
from pipeline.sending.transports.maildir import MaildirTransport
from tests.conftest import TEST_SECRET
from tests.sending.conftest import add_audience

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
SLUG = "2026-12-01-microneedling"
RECIPIENTS = 400  # one claim (sending.batch_size 500): before the fix all 400 went out
RATE = 20  # messages per second: the sender is still busy when the cancel comes


def _env(db_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_CONFIG": "",
        "COLUMNS": "200",
    }


def _delivered(outbox: Path) -> int:
    folder = outbox / "new"
    return len(os.listdir(folder)) if folder.is_dir() else 0


@pytest.mark.slow
def test_cancel_stops_a_running_send_within_one_hand_off(
    project_dir: Path, db_url: str, engine: Engine
) -> None:
    config = project_dir / "newsletter.toml"
    config.write_text(config.read_text().replace("rate_limit = 0 ", f"rate_limit = {RATE} "))
    add_audience(engine, RECIPIENTS)
    outbox = project_dir / "var" / "outbox"
    sender = subprocess.Popen(
        [NEWSLETTER, "issue", "send", SLUG, "--yes"],
        cwd=project_dir,
        env=_env(db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while _delivered(outbox) < 2 * RATE:  # polling for a state, not timing anything
            assert sender.poll() is None, sender.communicate()
            time.sleep(0.05)
        cancel = subprocess.run(
            [NEWSLETTER, "issue", "cancel", SLUG],
            cwd=project_dir,
            env=_env(db_url),
            capture_output=True,
            text=True,
        )
        assert cancel.returncode == 0, cancel.stderr
        at_cancel = _delivered(outbox)
        out, err = sender.communicate(timeout=120)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == 0, err
    assert cancel.stdout.startswith(f"Cancelled {SLUG}: ")
    final = len(mailbox.Maildir(outbox).keys())
    # The sender looks at the state before each hand-off: at most one more went out.
    assert final - at_cancel <= MaildirTransport(outbox).handoff_size
    assert final < RECIPIENTS
    edition = get_edition(engine, SLUG)
    assert edition.status == "cancelled"
    counts = count_by_status(engine, edition.id)
    assert counts["sent"] == final
    assert counts["cancelled"] == RECIPIENTS - final  # nothing pending or in flight is left
    assert counts["pending"] == counts["in_flight"] == 0
    assert "edition is cancelled" in " ".join(out.split())
