"""Sending to nobody never burns an issue: send, schedule and send-due refuse an edition
whose audience is 0, never mark it sent, and an issue "sent" to nobody can be sent again."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.scheduling.due import send_due
from pipeline.sending.editions import find_edition, get_edition, store_edition, transition
from pipeline.sending.ledger import count_by_status
from pipeline.store.tables import subscribers
from pipeline.subscribers.lists import sync_lists
from tests.conftest import TEST_SECRET
from tests.sending.conftest import add_audience

SLUG = "2026-12-01-microneedling"
REFUSAL = (
    f"Error: {SLUG} would go to 0 recipients: list 'beauty-tips' has no confirmed, active "
    "subscriber (add subscribers with 'newsletter subscribers add EMAIL --list beauty-tips' "
    "or 'newsletter subscribers import FILE --list beauty-tips', or change 'lists:' in "
    f"issues/{SLUG}/issue.md; nothing was sent and the issue can still be sent)"
)


@pytest.fixture
def run(project_dir: Path, db_url: str) -> object:
    env = {
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_NOW": "2026-11-20T10:00:00+00:00",
        "COLUMNS": "400",
    }

    def invoke(*args: str) -> Result:
        config = str(project_dir / "newsletter.toml")
        return CliRunner().invoke(app, ["--config", config, *args], env=env)

    return invoke


def _flat(result: Result) -> str:
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    "command",
    [("issue", "send", SLUG, "--yes"), ("issue", "schedule", SLUG, "--at", "2026-12-01 09:00")],
)
def test_send_and_schedule_refuse_an_empty_audience(
    run: object, engine: Engine, command: tuple[str, ...]
) -> None:
    result = run(*command)  # type: ignore[operator]
    assert result.exit_code == 1
    assert _flat(result) == " ".join(REFUSAL.split())
    assert find_edition(engine, SLUG) is None  # nothing frozen, nothing burnt


def test_unsubscribed_people_do_not_count(run: object, engine: Engine) -> None:
    add_audience(engine, 2)
    with engine.begin() as conn:
        conn.execute(update(subscribers).values(status="unsubscribed"))
    result = run("issue", "send", SLUG, "--yes")  # type: ignore[operator]
    assert result.exit_code == 1
    assert "would go to 0 recipients" in _flat(result)


def test_dry_run_shows_the_count_first(run: object, engine: Engine) -> None:
    result = run("issue", "send", SLUG, "--dry-run")  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Dry run: {SLUG} would go to 0 recipient(s) on beauty-tips")
    assert "Warning: " + " ".join(REFUSAL.split())[len("Error: ") :] in _flat(result)
    assert find_edition(engine, SLUG) is None


def test_send_due_pauses_an_edition_whose_audience_left(
    settings: Settings, engine: Engine, project_dir: Path
) -> None:
    """Scheduled with one reader who then unsubscribed: paused with the reason, not sent;
    once someone subscribes, resuming sends it."""
    from pipeline.scheduling.plan import schedule_issue

    add_audience(engine, 1)
    before, when = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    schedule_issue(settings, engine, SLUG, at="2026-12-01 09:00", clock=FixedClock(before))
    with engine.begin() as conn:
        conn.execute(update(subscribers).values(status="unsubscribed"))
    report = send_due(settings, engine, clock=FixedClock(when))
    edition = get_edition(engine, SLUG)
    assert edition.status == "paused"
    assert edition.pause_reason is not None
    assert edition.pause_reason.startswith(f"{SLUG} would go to 0 recipients: list 'beauty-tips'")
    assert [o.action for o in report.outcomes] == ["paused"]
    assert sum(count_by_status(engine, edition.id).values()) == 0
    assert not (project_dir / "var" / "outbox" / "new").exists()


def test_an_issue_sent_to_nobody_before_the_fix_can_be_sent_again(
    run: object, settings: Settings, engine: Engine, project_dir: Path
) -> None:
    """Before the refusal, an empty audience marked the edition sent with no ledger row."""
    from pipeline.render.build import build_issue

    build = build_issue(settings, SLUG)
    sync_lists(engine, settings)
    eid = store_edition(
        engine, SLUG, build.compiled, lists=["beauty-tips"], content_hash=build.content_hash
    )
    assert transition(engine, eid, ["frozen"], "sending")
    assert transition(engine, eid, ["sending"], "sent", finished_at=datetime.now(UTC))
    add_audience(engine, 3)
    result = run("issue", "send", SLUG, "--yes")  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert f"{SLUG}: 3 sent via maildir" in result.output
    assert len(mailbox.Maildir(project_dir / "var" / "outbox").keys()) == 3
    assert get_edition(engine, SLUG).status == "sent"
