"""kill -9 of `newsletter send-due` while it sends an A/B test's sample changes nothing of
the test: every reader of the sample keeps the subject the snapshot gave them (a resent
message carries the same subject), the rest is not touched until the winner is chosen,
and after the wait the most-clicked subject goes to everyone else."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from pipeline.sending.editions import get_edition
from pipeline.sending.ledger import count_by_status
from pipeline.subscribers.lists import sync_lists
from tests.conftest import TEST_SECRET
from tests.sending.abtest_helpers import (
    SLUG,
    SUBJECTS,
    Captured,
    keeping_smtp,
    served,
    write_ab_issue,
)
from tests.sending.conftest import SmtpServer, add_audience
from tests.sending.test_abtest_e2e import variant_rows

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
RECIPIENTS = 2000
DUE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _configure(project_dir: Path, server: SmtpServer, base_url: str) -> None:
    config = project_dir / "newsletter.toml"
    text = config.read_text().replace(
        '[sending]\ntransport = "maildir"',
        '[sending]\ntransport = "smtp"\nbatch_size = 50\nbackoff_base = 0.0\nworkers = 1',
    )
    text = text.replace('base_url = "http://127.0.0.1:8000"', f'base_url = "{base_url}"')
    text += f'\n[smtp]\nhost = "{server.host}"\nport = {server.port}\nconnections = 4\n'
    config.write_text(text)


def _run(project_dir: Path, db_url: str, now: datetime, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_CONFIG": "",
        "NEWSLETTER_NOW": now.isoformat(),
        "COLUMNS": "200",
    }
    return subprocess.Popen(
        [NEWSLETTER, *args],
        cwd=project_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(proc: subprocess.Popen[bytes]) -> str:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, (out + err).decode()
    return out.decode()


@pytest.mark.slow
def test_kill_9_during_the_sample_changes_nothing(
    project_dir: Path, make_settings: Any, db_url: str, engine: Engine, port: int
) -> None:
    write_ab_issue(project_dir, sample="40%", wait="2h")
    base_url = f"http://127.0.0.1:{port}"
    with keeping_smtp() as (smtp, handler):
        _configure(project_dir, smtp, base_url)
        settings = make_settings(**{"database.url": db_url})
        sync_lists(engine, settings)
        add_audience(engine, RECIPIENTS)
        _finish(_run(project_dir, db_url, DUE - timedelta(days=1), "issue", "schedule", SLUG,
                     "--at", "2026-12-01 09:00"))  # fmt: skip
        edition_id = get_edition(engine, SLUG).id

        # The sample is being sent: kill -9 the sender after a random number of messages.
        handler.target = random.Random().randrange(100, 600)
        proc = _run(project_dir, db_url, DUE, "send-due")
        assert handler.reached.wait(timeout=120), proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at = len(handler.messages)
        counts = count_by_status(engine, edition_id)
        in_flight = counts["in_flight"]
        assert counts["pending"] > 0 and counts["sent"] < 800
        assert variant_rows(engine, edition_id) == {
            (0, True): 200, (1, True): 200, (2, True): 200, (3, True): 200, (None, False): 1200,
        }  # fmt: skip

        # Resumed: the rest of the sample goes out, each with its own subject; the rest of
        # the audience still waits for the winner.
        out = _finish(_run(project_dir, db_url, DUE + timedelta(minutes=5), "issue", "resume",
                           SLUG))  # fmt: skip
        assert "winning subject" in out
        assert variant_rows(engine, edition_id)[(None, False)] == 1200
        sample = list(handler.messages)
        readers = {m.rcpt for m in sample}
        assert len(readers) == 800
        duplicates = len(sample) - len(readers)
        assert duplicates <= in_flight
        subjects: dict[str, set[str]] = defaultdict(set)
        for m in sample:
            subjects[m.rcpt].add(m.subject)
        assert all(len(s) == 1 for s in subjects.values())  # never two subjects
        per_subject = {s: sum(1 for r in readers if subjects[r] == {s}) for s in SUBJECTS}
        assert per_subject == dict.fromkeys(SUBJECTS, 200)

        # People click through the tracking endpoint; C gets the most clicks.
        rng = random.Random(9)
        first_message: dict[str, Captured] = {}
        for m in sample:
            first_message.setdefault(m.rcpt, m)
        settings = make_settings(**{"database.url": db_url, "newsletter.base_url": base_url})
        from pipeline.clock import FixedClock

        with served(settings, engine, FixedClock(DUE + timedelta(minutes=20)), port) as site:
            for index, subject in enumerate(SUBJECTS):
                got = sorted(r for r in readers if subjects[r] == {subject})
                share = 0.3 if index == 2 else 0.05
                chosen = rng.sample(got, round(len(got) * share))
                assert set(site.click([first_message[r].link for r in chosen])) == {302}
            site.flush()

        # After the wait, the next send-due chooses C and sends it to the other 1,200.
        out = _finish(_run(project_dir, db_url, DUE + timedelta(hours=2, minutes=10), "send-due"))
        assert "sent " + SLUG in out or SLUG in out

    edition = get_edition(engine, SLUG)
    assert edition.status == "sent" and edition.ab_winner == 2
    assert edition.ab_decision is not None and edition.ab_decision["outcome"] == "significant"
    rest = handler.messages[len(sample) :]
    assert len(rest) == 1200 and {m.subject for m in rest} == {SUBJECTS[2]}
    everyone: dict[str, set[str]] = defaultdict(set)
    for m in handler.messages:
        everyone[m.rcpt].add(m.subject)
    assert len(everyone) == RECIPIENTS and all(len(s) == 1 for s in everyone.values())
    assert count_by_status(engine, edition.id)["sent"] == RECIPIENTS
    print(
        f"\nkilled after {killed_at} messages ({in_flight} in flight), {duplicates} resent "
        f"(same subject); decision: {edition.ab_decision['reason']}"
    )
