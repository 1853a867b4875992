"""With [editorial] require_approval: scheduling, `issue send` and `send-due` refuse an issue
that is not approved, or that changed since it was approved (real SMTP, injected clock)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.editorial.review import approve, state_of, submit
from pipeline.errors import NotApproved
from pipeline.scheduling.due import send_due
from pipeline.scheduling.plan import reschedule_issue, schedule_issue, unschedule_issue
from pipeline.sending.editions import freeze_for_sending, get_edition
from pipeline.sending.engine import send_edition
from tests.schedule.conftest import AT, BEFORE, DUE, SLUG, SmtpRecorder, add_audience, ledger

Strict = Callable[..., Settings]


def smtp(strict: Strict, server: SmtpRecorder) -> Settings:
    return strict(
        **{
            "sending.transport": "smtp",
            "sending.backoff_base": 0.0,
            "smtp.host": "127.0.0.1",
            "smtp.port": server.port,
            "smtp.connections": 2,
            "sending.workers": 1,
        }
    )


def approved(settings: Settings, engine: Engine, clock: FixedClock) -> None:
    submit(settings, engine, SLUG, "Ada", clock=clock)
    approve(settings, engine, SLUG, "Grace", clock=clock)


def edit(settings: Settings, words: str) -> None:
    path = settings.issues_dir / SLUG / "issue.md"
    path.write_text(path.read_text().rstrip("\n") + f"\n\n{words}\n")


def test_an_unapproved_issue_cannot_be_scheduled(strict: Strict, engine: Engine) -> None:
    settings = strict()
    add_audience(engine, settings, 3)
    clock = FixedClock(BEFORE)
    with pytest.raises(NotApproved) as caught:
        schedule_issue(settings, engine, SLUG, at=AT, clock=clock)
    assert "newsletter issue submit 2026-12-01-microneedling --by NAME" in str(caught.value)
    submit(settings, engine, SLUG, "Ada", clock=clock)
    with pytest.raises(NotApproved, match="is in review and not approved yet"):
        schedule_issue(settings, engine, SLUG, at=AT, clock=clock)
    approve(settings, engine, SLUG, "Grace", clock=clock)
    scheduled = schedule_issue(settings, engine, SLUG, at=AT, clock=clock)
    assert scheduled.send_at == DUE
    assert state_of(settings, engine, SLUG).state == "scheduled"
    unschedule_issue(engine, SLUG, clock=clock)
    assert state_of(settings, engine, SLUG).state == "approved"


def test_an_issue_edited_after_approval_is_not_sent_until_approved_again(
    strict: Strict, engine: Engine, smtp_recorder: SmtpRecorder
) -> None:
    settings = smtp(strict, smtp_recorder)
    add_audience(engine, settings, 12)
    clock = FixedClock(BEFORE)
    approved(settings, engine, clock)
    edit(settings, "A sentence added after approval.")
    with pytest.raises(NotApproved) as caught:
        freeze_for_sending(settings, engine, SLUG, clock=clock)
    assert str(caught.value).startswith(
        "2026-12-01-microneedling changed since Grace approved it on 2026-11-20 10:00 GMT: "
        "the approval is void"
    )
    assert smtp_recorder.accepted == [] and ledger(engine) == {}
    assert state_of(settings, engine, SLUG).label == "changed since approval"

    clock.advance(timedelta(minutes=30))
    approved(settings, engine, clock)
    edition = freeze_for_sending(settings, engine, SLUG, clock=clock)
    report = send_edition(settings, engine, edition.id, clock=clock)
    assert (report.sent, report.failed, report.status) == (12, 0, "sent")
    copies = Counter(rcpt for rcpt, _ in smtp_recorder.accepted)
    assert len(copies) == 12 and set(copies.values()) == {1}
    assert "A sentence added after approval." in edition.compiled.text.fill({})
    assert state_of(settings, engine, SLUG).state == "scheduled"


def test_send_due_holds_an_edition_whose_issue_changed_since_approval(
    strict: Strict,
    engine: Engine,
    smtp_recorder: SmtpRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = smtp(strict, smtp_recorder)
    add_audience(engine, settings, 8)
    clock = FixedClock(BEFORE)
    approved(settings, engine, clock)
    schedule_issue(settings, engine, SLUG, at=AT, clock=clock)
    edit(settings, "Changed after it was scheduled.")

    with caplog.at_level(logging.INFO, logger="pipeline.scheduling"):
        report = send_due(settings, engine, clock=FixedClock(DUE + timedelta(minutes=2)))
    [outcome] = report.outcomes
    assert not report.ok
    assert (outcome.action, outcome.status) == ("held", "scheduled")
    assert outcome.message.startswith(
        "held 2026-12-01-microneedling: not sent because 2026-12-01-microneedling changed "
        "since Grace approved it on 2026-11-20 10:00 GMT: the approval is void"
    )
    assert outcome.message in caplog.messages
    assert get_edition(engine, SLUG).status == "scheduled"
    assert smtp_recorder.accepted == [] and ledger(engine) == {}

    # approved again, but the frozen edition holds the old files: still held
    approved(settings, engine, clock)
    report = send_due(settings, engine, clock=FixedClock(DUE + timedelta(minutes=7)))
    [outcome] = report.outcomes
    assert outcome.action == "held"
    assert "newsletter issue reschedule 2026-12-01-microneedling" in outcome.message
    assert smtp_recorder.accepted == []

    reschedule_issue(settings, engine, SLUG, at="2026-12-01 09:30", clock=clock)
    report = send_due(settings, engine, clock=FixedClock(DUE + timedelta(minutes=31)))
    assert report.ok
    [outcome] = report.outcomes
    assert (outcome.action, outcome.sent) == ("sent", 8)
    copies = Counter(rcpt for rcpt, _ in smtp_recorder.accepted)
    assert len(copies) == 8 and set(copies.values()) == {1}
    edition = get_edition(engine, SLUG)
    assert "Changed after it was scheduled." in edition.compiled.text.fill({})


def test_send_due_holds_a_scheduled_issue_never_approved(
    strict: Strict, settings: Settings, engine: Engine
) -> None:
    """Scheduled before approval was required: held once it is."""
    add_audience(engine, settings, 2)
    schedule_issue(settings, engine, SLUG, at=AT, clock=FixedClock(BEFORE))
    report = send_due(strict(), engine, clock=FixedClock(DUE + timedelta(minutes=1)))
    [outcome] = report.outcomes
    assert outcome.action == "held"
    assert "is not approved ([editorial] require_approval = true)" in outcome.message
    assert get_edition(engine, SLUG).status == "scheduled"
    # without the setting the same edition goes out as before
    report = send_due(settings, engine, clock=FixedClock(DUE + timedelta(minutes=2)))
    assert [o.action for o in report.outcomes] == ["sent"]
