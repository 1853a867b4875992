"""Real `newsletter send-due` processes on one database: four at once, and kill -9.

The processes are the installed console script with NEWSLETTER_NOW (a frozen clock), so no
test waits for time to pass. They send through the SMTP transport to a real SMTP server on
127.0.0.1 that records every message, in batches of 20 recipients, so that the four runs
really share the edition. The databases are the suite's (SQLite, and PostgreSQL when
NEWSLETTER_TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.scheduling.due import send_due
from pipeline.scheduling.plan import schedule_issue
from pipeline.sending.editions import get_edition
from pipeline.store.tables import deliveries
from tests.conftest import TEST_SECRET
from tests.schedule.conftest import (
    AT,
    BEFORE,
    DUE,
    SLUG,
    SmtpRecorder,
    add_audience,
    ledger,
)

NEWSLETTER = Path(sys.executable).parent / "newsletter"
RECIPIENTS = 300
PROCESSES = 4
BATCH = 20

pytestmark = pytest.mark.slow


def smtp_overrides(server: SmtpRecorder, **sending: object) -> dict[str, object]:
    return {
        "sending.transport": "smtp",
        "sending.batch_size": BATCH,
        "sending.backoff_base": 0.0,
        "smtp.host": "127.0.0.1",
        "smtp.port": server.port,
        "smtp.connections": 2,
        **{f"sending.{key}": value for key, value in sending.items()},
    }


def write_config(project_dir: Path, name: str, overrides: dict[str, object]) -> Path:
    """A copy of newsletter.toml (same folder, same var/) with these 'section.key' values."""
    lines = (project_dir / "newsletter.toml").read_text().split("\n")
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        shown = json.dumps(value)
        if f"[{section}]" not in lines:
            lines += ["", f"[{section}]"]
        start = lines.index(f"[{section}]") + 1
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
        lines = (
            lines[:start]
            + [x for x in lines[start:end] if x.split("=")[0].strip() != key]
            + lines[end:]
        )
        lines.insert(start, f"{key} = {shown}")
    path = project_dir / name
    path.write_text("\n".join(lines) + "\n")
    return path


def run_env(config: Path, db_url: str, now: datetime) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(
        NEWSLETTER_CONFIG=str(config),
        NEWSLETTER_DATABASE_URL=db_url,
        NEWSLETTER_SECRET_KEY=TEST_SECRET,
        NEWSLETTER_NOW=now.isoformat(),
    )
    return env


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(NEWSLETTER), "send-due", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def prepared(settings: Settings, engine: Engine) -> None:
    add_audience(engine, settings, RECIPIENTS)
    schedule_issue(settings, engine, SLUG, at=AT, clock=FixedClock(BEFORE))


def test_four_send_due_processes_send_each_recipient_exactly_once(
    settings: Settings,
    engine: Engine,
    project_dir: Path,
    db_url: str,
    smtp_recorder: SmtpRecorder,
) -> None:
    prepared(settings, engine)
    config = write_config(project_dir, "concurrent.toml", smtp_overrides(smtp_recorder))
    env = run_env(config, db_url, DUE + timedelta(minutes=1))
    procs = [start(env, "--log-format", "json") for _ in range(PROCESSES)]
    results = [(p.pid, *p.communicate(timeout=120), p.returncode) for p in procs]
    for pid, _out, err, code in results:
        assert (code, err) == (0, ""), f"send-due {pid} failed: {err}"

    accepted = smtp_recorder.accepted
    copies = Counter(rcpt for rcpt, _ in accepted)
    assert len(copies) == RECIPIENTS
    assert set(copies.values()) == {1}, "a recipient got more than one copy"
    assert len({mid for _, mid in accepted}) == RECIPIENTS
    assert ledger(engine) == {"sent": RECIPIENTS}
    with engine.connect() as conn:
        recorded = dict(conn.execute(select(deliveries.c.email, deliveries.c.message_id)).all())
    assert recorded == dict(accepted)  # the ledger agrees with what the server received
    assert get_edition(engine, SLUG).status == "sent"

    # exactly one process won the claim; together they sent every message once
    logs = {pid: json_lines(out) for pid, out, _, _ in results}
    claims = [pid for pid, lines in logs.items() for e in lines if e["event"] == "claim"]
    assert len(claims) == 1
    # each ends with one summary ("nothing_due" when it started after the others finished)
    last = {pid: lines[-1] for pid, lines in logs.items()}
    assert all(e["event"] in ("summary", "nothing_due") and e["ok"] is True for e in last.values())
    per_process = sorted((int(str(e["sent"])) for e in last.values()), reverse=True)
    assert sum(per_process) == RECIPIENTS
    print(
        f"\n{RECIPIENTS} recipients, {PROCESSES} send-due processes, batches of {BATCH} "
        f"({engine.dialect.name}): messages per process {per_process}, "
        f"copies per recipient {sorted(set(copies.values()))}"
    )


def test_resume_after_kill_9_loses_no_one(
    make_settings: Callable[..., Settings],
    engine: Engine,
    project_dir: Path,
    db_url: str,
    smtp_recorder: SmtpRecorder,
) -> None:
    overrides = smtp_overrides(smtp_recorder)
    settings = make_settings(**{"database.url": db_url, **overrides})
    prepared(settings, engine)
    slow = write_config(project_dir, "slow.toml", smtp_overrides(smtp_recorder, rate_limit=100))
    started = DUE + timedelta(minutes=1)
    smtp_recorder.target = 50
    victim = start(run_env(slow, db_url, started))
    if not smtp_recorder.reached.wait(timeout=60):
        victim.kill()
        raise AssertionError(f"send-due never sent 50 messages: {victim.communicate()}")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    at_kill = len(smtp_recorder.accepted)

    with engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.email, deliveries.c.status)).all()
    in_flight = {email for email, status in rows if status == "in_flight"}
    assert len(rows) == RECIPIENTS  # the snapshot was taken before the crash
    assert get_edition(engine, SLUG).status == "sending"
    assert 50 <= at_kill < RECIPIENTS

    # within the lease, a run sends what is pending but leaves the dead run's rows alone
    within = send_due(settings, engine, clock=FixedClock(started + timedelta(minutes=5)))
    assert within.ok
    assert ledger(engine).get("in_flight", 0) == len(in_flight)
    assert get_edition(engine, SLUG).status == ("sending" if in_flight else "sent")

    # after the lease, the next run reclaims them and finishes the edition
    lease = timedelta(seconds=settings.sending.claim_lease_seconds)
    after = send_due(settings, engine, clock=FixedClock(started + lease + timedelta(minutes=1)))
    assert after.ok
    assert ledger(engine) == {"sent": RECIPIENTS}
    assert get_edition(engine, SLUG).status == "sent"

    copies = Counter(rcpt for rcpt, _ in smtp_recorder.accepted)
    assert len(copies) == RECIPIENTS, "a recipient was lost"
    twice = {email for email, n in copies.items() if n > 1}
    assert max(copies.values()) <= 2
    assert twice <= in_flight, "only messages in flight at the crash may be sent twice"
    print(
        f"\nkill -9 after {at_kill} of {RECIPIENTS} messages ({engine.dialect.name}): "
        f"{len(in_flight)} rows in flight at the crash, "
        f"{len(twice)} recipients got two copies, 0 lost"
    )
