"""`newsletter schedule`: upcoming, running and recent editions, and the last send-due run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Engine, func, select

from pipeline.clock import Clock
from pipeline.config import Settings
from pipeline.scheduling.runs import SendRun, last_run
from pipeline.scheduling.timeparse import format_duration, format_local
from pipeline.store.tables import deliveries, editions

UPCOMING = ("scheduled", "frozen")
RUNNING = ("sending", "paused")
RECENT = ("sent", "missed", "cancelled")


@dataclass(frozen=True)
class ScheduleEntry:
    """One edition as the schedule shows it."""

    slug: str
    status: str
    subject: str
    lists: tuple[str, ...]
    send_at: datetime | None
    send_at_local: str
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int]  # ledger rows by status
    note: str  # "in 2 h 5 min", "due now", "1 h late", pause reason, ...

    @property
    def progress(self) -> str:
        total = sum(self.counts.values())
        if not total:
            return ""
        return f"{self.counts.get('sent', 0):,}/{total:,}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "status": self.status,
            "subject": self.subject,
            "lists": list(self.lists),
            "send_at": self.send_at.isoformat() if self.send_at else None,
            "send_at_local": self.send_at_local,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "deliveries": self.counts,
            "note": self.note,
        }


@dataclass(frozen=True)
class ScheduleListing:
    timezone: str
    now: datetime
    upcoming: list[ScheduleEntry]
    running: list[ScheduleEntry]
    recent: list[ScheduleEntry]
    last_run: SendRun | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "now": self.now.isoformat(),
            "upcoming": [e.as_dict() for e in self.upcoming],
            "running": [e.as_dict() for e in self.running],
            "recent": [e.as_dict() for e in self.recent],
            "last_run": self.last_run.as_dict() if self.last_run else None,
        }


def _counts(engine: Engine, ids: list[int]) -> dict[int, dict[str, int]]:
    if not ids:
        return {}
    query = (
        select(deliveries.c.edition_id, deliveries.c.status, func.count())
        .where(deliveries.c.edition_id.in_(ids))
        .group_by(deliveries.c.edition_id, deliveries.c.status)
    )
    found: dict[int, dict[str, int]] = {i: {} for i in ids}
    with engine.connect() as conn:
        for edition_id, status, n in conn.execute(query):
            found[edition_id][status] = int(n)
    return found


def _note(row: Any, now: datetime, max_late: timedelta, tz: tzinfo) -> str:
    if row.status == "scheduled" and row.send_at is not None:
        wait = row.send_at - now
        if wait > timedelta(0):
            return f"in {format_duration(wait)}"
        if -wait > max_late:
            return f"{format_duration(wait)} late: will be marked missed"
        return "due now: the next send-due run sends it"
    if row.status == "frozen":
        return "not scheduled"
    if row.status == "paused":
        return str(row.pause_reason or "paused")
    if row.status == "sent" and row.finished_at is not None:
        return f"finished {format_local(row.finished_at, tz)}"
    if row.status == "missed" and row.send_at is not None and row.finished_at is not None:
        return f"marked missed {format_duration(row.finished_at - row.send_at)} after its time"
    return ""


def list_schedule(
    settings: Settings, engine: Engine, *, clock: Clock, recent: int = 10
) -> ScheduleListing:
    """Editions to come (scheduled, then frozen), being sent, and the ``recent`` last ones."""
    tz = settings.newsletter.tz
    now = clock.now()
    max_late = timedelta(hours=settings.sending.max_lateness_hours)
    columns = [
        editions.c.id,
        editions.c.slug,
        editions.c.status,
        editions.c.subject,
        editions.c.lists,
        editions.c.send_at,
        editions.c.started_at,
        editions.c.finished_at,
        editions.c.pause_reason,
        editions.c.frozen_at,
    ]
    with engine.connect() as conn:
        current = conn.execute(
            select(*columns)
            .where(editions.c.status.in_(UPCOMING + RUNNING))
            .order_by(editions.c.send_at, editions.c.id)
        ).all()
        latest = func.coalesce(editions.c.finished_at, editions.c.send_at, editions.c.frozen_at)
        past = conn.execute(
            select(*columns)
            .where(editions.c.status.in_(RECENT))
            .order_by(latest.desc(), editions.c.id.desc())
            .limit(recent)
        ).all()
    counts = _counts(engine, [r.id for r in [*current, *past]])

    def entry(row: Any) -> ScheduleEntry:
        return ScheduleEntry(
            slug=row.slug,
            status=row.status,
            subject=row.subject,
            lists=tuple(row.lists or ()),
            send_at=row.send_at,
            send_at_local=format_local(row.send_at, tz),
            started_at=row.started_at,
            finished_at=row.finished_at,
            counts=counts.get(row.id, {}),
            note=_note(row, now, max_late, tz),
        )

    scheduled = [entry(r) for r in current if r.status == "scheduled"]
    frozen = [entry(r) for r in current if r.status == "frozen"]
    return ScheduleListing(
        timezone=settings.newsletter.timezone,
        now=now,
        upcoming=scheduled + frozen,
        running=[entry(r) for r in current if r.status in RUNNING],
        recent=[entry(r) for r in past],
        last_run=last_run(engine),
    )
