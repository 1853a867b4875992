"""Real `newsletter send-due` processes on one database: four at once, and kill -9.

Each test starts the installed console script with NEWSLETTER_NOW (a frozen clock), so no
test waits for time to pass; the databases are the suite's (SQLite, and PostgreSQL when
NEWSLETTER_TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.schedule import schedule_issue, send_due
from pipeline.sending.editions import get_edition
from pipeline.store.tables import deliveries
from tests.conftest import TEST_SECRET
from tests.schedule.conftest import AT, BEFORE, DUE, SLUG, add_audience, ledger, outbox

NEWSLETTER = Path(sys.executable).parent / "newsletter"
RECIPIENTS = 300
PROCESSES = 4

pytestmark = pytest.mark.slow


def write_config(project_dir: Path, name: str, **sending: object) -> Path:
    """A copy of newsletter.toml with extra [sending] keys (same folder, same var/)."""
    lines = (project_dir / "newsletter.toml").read_text().split("\n")
    lines = [x for x in lines if x.split("=")[0].strip() not in sending]
    at = lines.index("[sending]") + 1
    lines[at:at] = [f"{key} = {value}" for key, value in sending.items()]
    path = project_dir / name
    path.write_text("\n".join(lines))
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


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait for an event another process causes (not for time to pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def prepared(settings: Settings, engine: Engine) -> None:
    add_audience(engine, settings, RECIPIENTS)
    schedule_issue(settings, engine, SLUG, at=AT, clock=FixedClock(BEFORE))


def test_four_send_due_processes_send_each_recipient_exactly_once(
    settings: Settings, engine: Engine, project_dir: Path, db_url: str
) -> None:
    prepared(settings, engine)
    config = write_config(project_dir, "concurrent.toml", batch_size=25)
    env = run_env(config, db_url, DUE + timedelta(minutes=1))
    procs = [start(env, "--log-format", "json") for _ in range(PROCESSES)]
    results = [(p.pid, *p.communicate(timeout=120), p.returncode) for p in procs]
    for pid, _out, err, code in results:
        assert (code, err) == (0, ""), f"send-due {pid} failed: {err}"

    messages = outbox(settings)
    copies = Counter(to for to, _, _ in messages)
    assert len(copies) == RECIPIENTS
    assert set(copies.values()) == {1}, "a recipient got more than one copy"
    assert len({mid for _, mid, _ in messages}) == RECIPIENTS
    assert ledger(engine) == {"sent": RECIPIENTS}
    with engine.connect() as conn:
        recorded = set(conn.execute(select(deliveries.c.message_id)).scalars())
    assert recorded == {mid for _, mid, _ in messages}
    assert get_edition(engine, SLUG).status == "sent"

    # exactly one process won the claim; together they sent every message once
    logs = {pid: json_lines(out) for pid, out, _, _ in results}
    claims = [pid for pid, lines in logs.items() for e in lines if e["event"] == "claim"]
    assert len(claims) == 1
    # each ends with one summary ("nothing_due" when it started after the others finished)
    last = [lines[-1] for lines in logs.values()]
    assert all(e["event"] in ("summary", "nothing_due") and e["ok"] is True for e in last)
    assert sum(int(str(e["sent"])) for e in last) == RECIPIENTS
    by_process = Counter(name.split("P")[1].split("Q")[0] for _, _, name in messages)
    print(f"\n{RECIPIENTS} recipients, {PROCESSES} processes, messages per process: ", end="")
    print(dict(by_process), f"({engine.dialect.name})")


def test_resume_after_kill_9_loses_no_one(
    settings: Settings, engine: Engine, project_dir: Path, db_url: str
) -> None:
    prepared(settings, engine)
    slow = write_config(project_dir, "slow.toml", batch_size=25, rate_limit=100)
    started = DUE + timedelta(minutes=1)
    victim = start(run_env(slow, db_url, started))

    def first_messages() -> bool:
        if victim.poll() is not None:
            raise AssertionError(f"send-due ended before the kill: {victim.communicate()}")
        return len(outbox(settings)) > 0

    wait_for(first_messages, "the first messages in the outbox")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    with engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.email, deliveries.c.status)).all()
    in_flight = {email for email, status in rows if status == "in_flight"}
    assert len(rows) == RECIPIENTS  # the snapshot was taken before the crash
    assert get_edition(engine, SLUG).status == "sending"
    assert 0 < len(outbox(settings)) < RECIPIENTS

    # within the lease, a run sends what is pending but leaves the dead run's rows alone
    within = send_due(settings, engine, clock=FixedClock(started + timedelta(minutes=5)))
    assert within.ok
    assert ledger(engine).get("in_flight", 0) == len(in_flight)
    assert get_edition(engine, SLUG).status == ("sending" if in_flight else "sent")

    # after the lease, the next run reclaims them and finishes the edition
    lease = timedelta(seconds=settings.sending.claim_lease_seconds)
    after = send_due(settings, engine, clock=FixedClock(started + lease + timedelta(minutes=1)))
    assert after.ok
    assert [o.action for o in after.outcomes] == ["sent"]
    assert ledger(engine) == {"sent": RECIPIENTS}
    assert get_edition(engine, SLUG).status == "sent"

    copies = Counter(to.split("<")[1].rstrip(">") for to, _, _ in outbox(settings))
    assert len(copies) == RECIPIENTS, "a recipient was lost"
    twice = {email for email, n in copies.items() if n > 1}
    assert max(copies.values()) <= 2
    assert twice <= in_flight, "only messages in flight at the crash may be sent twice"
    print(
        f"\nkill -9: {len(in_flight)} rows in flight at the crash, {len(twice)} sent twice, "
        f"0 lost ({engine.dialect.name})"
    )
