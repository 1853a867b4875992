"""send_due in one process, with a FixedClock: due, not yet due, missed, late, the record."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.scheduling.due import send_due
from pipeline.scheduling.listing import list_schedule
from pipeline.scheduling.plan import schedule_issue
from pipeline.scheduling.runs import last_run
from pipeline.sending.editions import get_edition
from pipeline.store.tables import send_runs
from tests.schedule.conftest import AT, BEFORE, DUE, SLUG, add_audience, ledger, outbox


def scheduled(settings: Settings, engine: Engine, n: int = 20, at: str = AT) -> None:
    add_audience(engine, settings, n)
    schedule_issue(settings, engine, SLUG, at=at, clock=FixedClock(BEFORE))


def copy_issue(settings: Settings, slug: str) -> None:
    shutil.copytree(settings.issues_dir / SLUG, settings.issues_dir / slug)


def test_a_due_edition_is_claimed_and_sent_once(settings: Settings, engine: Engine) -> None:
    scheduled(settings, engine, 20)
    report = send_due(settings, engine, clock=FixedClock(DUE + timedelta(minutes=3)), worker="w1")
    assert report.ok
    [outcome] = report.outcomes
    assert (outcome.action, outcome.status, outcome.sent, outcome.total) == ("sent", "sent", 20, 20)
    assert outcome.message == f"sent {SLUG}: 20 sent by this run, 20 in all"
    edition = get_edition(engine, SLUG)
    assert edition.status == "sent"
    assert edition.claimed_by == "w1"
    assert edition.started_at == DUE + timedelta(minutes=3)
    messages = outbox(settings)
    assert sorted(to for to, _, _ in messages) == sorted(
        f"Reader {i} <reader{i}@example.com>" for i in range(20)
    )
    assert ledger(engine) == {"sent": 20}

    again = send_due(settings, engine, clock=FixedClock(DUE + timedelta(minutes=8)))
    assert again.ok and again.outcomes == []
    assert len(outbox(settings)) == 20


def test_nothing_due_names_the_next_edition(settings: Settings, engine: Engine) -> None:
    scheduled(settings, engine, 3)
    report = send_due(settings, engine, clock=FixedClock(DUE - timedelta(seconds=1)))
    assert report.ok and report.outcomes == []
    assert (report.next_slug, report.next_at) == (SLUG, DUE)
    assert get_edition(engine, SLUG).status == "scheduled"
    assert outbox(settings) == []


def test_an_edition_past_max_lateness_is_missed_not_sent(
    settings: Settings, engine: Engine
) -> None:
    scheduled(settings, engine, 5)
    late = DUE + timedelta(hours=24, minutes=1)
    report = send_due(settings, engine, clock=FixedClock(late))
    assert not report.ok
    [outcome] = report.outcomes
    assert outcome.action == "missed"
    assert outcome.message == (
        f"missed {SLUG}: it was due 2026-12-01 09:00 GMT, 1 day 0 h ago (more than "
        "sending.max_lateness_hours = 24); send it anyway with 'newsletter send-due "
        f"--include-late' or move it with 'newsletter issue reschedule {SLUG} --at ...'"
    )
    edition = get_edition(engine, SLUG)
    assert (edition.status, edition.finished_at) == ("missed", late)
    assert outbox(settings) == [] and ledger(engine) == {}

    # reported once: the next run has nothing to say
    assert send_due(settings, engine, clock=FixedClock(late + timedelta(minutes=5))).outcomes == []

    # --include-late sends a missed edition
    sent = send_due(
        settings, engine, clock=FixedClock(late + timedelta(minutes=10)), include_late=True
    )
    assert sent.ok
    assert [(o.action, o.sent, o.late) for o in sent.outcomes] == [("sent", 5, True)]
    assert len(outbox(settings)) == 5


def test_max_lateness_is_a_setting(make_settings: object, db_url: str, engine: Engine) -> None:
    settings = make_settings(**{"database.url": db_url, "sending.max_lateness_hours": 0.5})  # type: ignore[operator]
    scheduled(settings, engine, 2)
    on_time = send_due(settings, engine, clock=FixedClock(DUE + timedelta(minutes=29)))
    assert [o.action for o in on_time.outcomes] == ["sent"]


def test_include_late_sends_a_late_scheduled_edition(settings: Settings, engine: Engine) -> None:
    scheduled(settings, engine, 4)
    report = send_due(
        settings, engine, clock=FixedClock(DUE + timedelta(days=3)), include_late=True
    )
    assert report.ok
    assert [(o.action, o.sent, o.late) for o in report.outcomes] == [("sent", 4, True)]


def test_only_due_editions_are_sent(settings: Settings, engine: Engine) -> None:
    copy_issue(settings, "2026-12-08-later")
    scheduled(settings, engine, 3)
    schedule_issue(
        settings, engine, "2026-12-08-later", at="2026-12-08 09:00", clock=FixedClock(BEFORE)
    )
    report = send_due(settings, engine, clock=FixedClock(DUE))
    assert [o.slug for o in report.outcomes] == [SLUG]
    assert (report.next_slug, report.next_at) == (
        "2026-12-08-later",
        datetime(2026, 12, 8, 9, tzinfo=UTC),
    )
    assert get_edition(engine, "2026-12-08-later").status == "scheduled"


def test_every_run_is_recorded(settings: Settings, engine: Engine) -> None:
    assert last_run(engine) is None
    scheduled(settings, engine, 2)
    send_due(settings, engine, clock=FixedClock(DUE + timedelta(hours=30)), worker="cron:1")
    run = last_run(engine)
    assert run is not None
    assert (run.worker, run.status, run.missed, run.sent) == ("cron:1", "failed", 1, 0)
    assert run.started_at == DUE + timedelta(hours=30)
    send_due(settings, engine, clock=FixedClock(DUE + timedelta(hours=31)), include_late=True)
    run = last_run(engine)
    assert run is not None and (run.status, run.sent, run.editions) == ("ok", 2, 1)
    with engine.connect() as conn:
        assert len(conn.execute(select(send_runs.c.id)).all()) == 2


def test_listing_sections_and_notes(settings: Settings, engine: Engine) -> None:
    copy_issue(settings, "2026-12-08-later")
    scheduled(settings, engine, 3)
    schedule_issue(
        settings, engine, "2026-12-08-later", at="2026-12-08 09:00", clock=FixedClock(BEFORE)
    )
    clock = FixedClock(DUE - timedelta(hours=2, minutes=5))
    listing = list_schedule(settings, engine, clock=clock)
    assert [(e.slug, e.note, e.send_at_local) for e in listing.upcoming] == [
        (SLUG, "in 2 h 5 min", "2026-12-01 09:00 GMT"),
        ("2026-12-08-later", "in 7 days 2 h", "2026-12-08 09:00 GMT"),
    ]
    assert listing.running == [] and listing.recent == [] and listing.last_run is None

    send_due(settings, engine, clock=FixedClock(DUE))
    listing = list_schedule(settings, engine, clock=FixedClock(DUE + timedelta(minutes=1)))
    assert [e.slug for e in listing.upcoming] == ["2026-12-08-later"]
    [recent] = listing.recent
    assert (recent.slug, recent.status, recent.progress) == (SLUG, "sent", "3/3")
    data = listing.as_dict()
    assert data["timezone"] == "Europe/London"
    assert data["recent"][0]["deliveries"] == {"sent": 3}
    assert data["last_run"]["status"] == "ok"
