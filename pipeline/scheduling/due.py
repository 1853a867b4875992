"""`newsletter send-due`: send every due edition, resume interrupted ones, then stop.

One run, as cron starts it every few minutes:

1. Each ``scheduled`` edition whose ``send_at`` has come is claimed with one atomic state
   change (``scheduled -> sending``; of several runs racing, exactly one wins). One due
   longer ago than ``sending.max_lateness_hours`` is marked ``missed`` instead and reported
   (``include_late`` sends it, and also editions an earlier run marked missed). With
   ``[editorial] require_approval``, one whose issue is not approved for the files it was
   frozen from (``pipeline.editorial``) is *held*: left scheduled, with the reason logged.
2. Every ``sending`` edition is then sent: the one just claimed, one another run is
   sending (the ledger's batch claims let several runs share it safely), and one whose
   process died (its ``in_flight`` rows are reclaimed after ``sending.claim_lease_seconds``).

Events go to the ``pipeline.scheduling`` logger (the CLI decides where they are shown);
``DueReport.ok`` is False when an edition was missed, held, paused, failed or could not be
sent.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from pipeline.clock import Clock, FixedClock
from pipeline.config import Settings
from pipeline.editorial.review import check_approved
from pipeline.errors import NewsletterError
from pipeline.scheduling.runs import finish_run, start_run
from pipeline.scheduling.timeparse import format_duration, format_local
from pipeline.sending.editions import transition
from pipeline.sending.mail_queue import QueueReport, send_queued
from pipeline.sending.transports.base import Transport
from pipeline.store.tables import editions

log = logging.getLogger("pipeline.scheduling")


@dataclass
class EditionOutcome:
    """What one run did with one edition."""

    slug: str
    edition_id: int
    action: str  # sent | sending | missed | held | paused | failed | error
    send_at: datetime | None
    status: str = ""  # the edition's status afterwards
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    total: int = 0
    late: bool = False  # sent although due longer ago than max_lateness (--include-late)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.action in ("sent", "sending")

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "edition_id": self.edition_id,
            "action": self.action,
            "status": self.status,
            "send_at": self.send_at.isoformat() if self.send_at else None,
            "sent": self.sent,
            "failed": self.failed,
            "retried": self.retried,
            "skipped": self.skipped,
            "total": self.total,
            "late": self.late,
            "message": self.message,
        }


@dataclass
class DueReport:
    """What one `send-due` run did."""

    worker: str
    now: datetime
    outcomes: list[EditionOutcome] = field(default_factory=list)
    next_slug: str | None = None
    next_at: datetime | None = None
    emails: QueueReport = field(default_factory=QueueReport)  # the queue of signup emails

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def sent(self) -> int:
        return sum(o.sent for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.failed for o in self.outcomes)

    @property
    def missed(self) -> list[EditionOutcome]:
        return [o for o in self.outcomes if o.action == "missed"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "now": self.now.isoformat(),
            "ok": self.ok,
            "sent": self.sent,
            "failed": self.failed,
            "editions": [o.as_dict() for o in self.outcomes],
            "next": {"slug": self.next_slug, "send_at": self.next_at.isoformat()}
            if self.next_slug and self.next_at
            else None,
        }


def worker_name() -> str:
    """``host:pid``: who claimed an edition (stored in editions.claimed_by)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _rows(engine: Engine, states: list[str], due_by: datetime | None = None) -> list[Any]:
    query = select(editions.c.id, editions.c.slug, editions.c.status, editions.c.send_at).where(
        editions.c.status.in_(states)
    )
    if due_by is not None:
        query = query.where(editions.c.send_at.is_not(None), editions.c.send_at <= due_by)
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(editions.c.send_at, editions.c.id)).all())


def _next_scheduled(engine: Engine) -> tuple[str, datetime] | None:
    rows = _rows(engine, ["scheduled"])
    return (rows[0].slug, rows[0].send_at) if rows else None


def _approved(settings: Settings, engine: Engine, row: Any, report: DueReport) -> bool:
    """With ``[editorial] require_approval``: is the due edition's issue still approved, for
    the files it was frozen from? If not it is held (left scheduled) and the reason logged."""
    try:
        check_approved(settings, engine, row.slug, clock=FixedClock(report.now), frozen=True)
    except NewsletterError as exc:  # NotApproved, or a folder that is gone
        text = f"held {row.slug}: not sent because {exc}"
        report.outcomes.append(
            EditionOutcome(row.slug, row.id, "held", row.send_at, status=row.status, message=text)
        )
        fields = {"event": "held", "slug": row.slug, "edition_id": row.id}
        log.error(text, extra={"fields": fields})
        return False
    return True


def _claim_due(
    settings: Settings,
    engine: Engine,
    report: DueReport,
    include_late: bool,
) -> set[int]:
    """Claim (or mark missed) every due scheduled edition; return the ids sent late."""
    now, tz = report.now, settings.newsletter.tz
    hours = settings.sending.max_lateness_hours
    max_late = timedelta(hours=hours)
    late_ids: set[int] = set()
    states = ["scheduled", "missed"] if include_late else ["scheduled"]
    for row in _rows(engine, states, due_by=now):
        lateness = now - row.send_at
        fields: dict[str, Any] = {"event": "claim", "slug": row.slug, "edition_id": row.id}
        if lateness > max_late and not include_late:
            if transition(engine, row.id, ["scheduled"], "missed", finished_at=now):
                text = (
                    f"missed {row.slug}: it was due {format_local(row.send_at, tz)}, "
                    f"{format_duration(lateness)} ago (more than sending.max_lateness_hours = "
                    f"{hours:g}); send it anyway with 'newsletter send-due --include-late' or "
                    f"move it with 'newsletter issue reschedule {row.slug} --at ...'"
                )
                outcome = EditionOutcome(
                    row.slug, row.id, "missed", row.send_at, status="missed", message=text
                )
                report.outcomes.append(outcome)
                log.error(text, extra={"fields": {**fields, "event": "missed"}})
            continue
        if not _approved(settings, engine, row, report):
            continue
        claimed = transition(
            engine,
            row.id,
            [row.status],
            "sending",
            claimed_by=report.worker[:100],
            claimed_at=now,
            started_at=now,
        )
        if lateness > max_late:
            late_ids.add(row.id)
        if claimed:
            when = format_local(row.send_at, tz)
            late = (
                f", {format_duration(lateness)} late (--include-late)"
                if lateness > max_late
                else ""
            )
            log.info(
                f"claimed {row.slug} (due {when}{late})",
                extra={"fields": {**fields, "late": lateness > max_late}},
            )
    return late_ids


def _send_one(
    settings: Settings,
    engine: Engine,
    row: Any,
    report: DueReport,
    clock: Clock,
    transport: Transport | None,
    late_ids: set[int],
    workers: int | None = None,
) -> EditionOutcome:
    from pipeline.sending import ledger
    from pipeline.sending.editions import edition_by_id
    from pipeline.sending.engine import send_edition
    from pipeline.sending.report import edition_audience
    from pipeline.sending.workers import choose_workers, send_with_workers

    outcome = EditionOutcome(row.slug, row.id, "sending", row.send_at, late=row.id in late_ids)
    fields: dict[str, Any] = {"slug": row.slug, "edition_id": row.id}
    try:
        processes = 1
        if transport is None:
            rows = ledger.count_by_status(engine, row.id)
            edition = edition_by_id(engine, row.id)
            # Only the rows due now: not those waiting for a later zone or an A/B winner
            # (a run that finds nothing due starts no worker processes).
            due = ledger.waiting(engine, row.id, clock.now(), ab_test=bool(edition.ab_test))
            todo = due.due_now + rows["in_flight"]
            if not sum(rows.values()):  # not snapshotted yet
                todo = edition_audience(engine, edition, clock.now())
            processes = choose_workers(settings, workers, todo)
        if processes > 1:
            sent = send_with_workers(settings, row.id, processes, clock=clock)
        else:
            sent = send_edition(
                settings, engine, row.id, transport=transport, clock=clock, worker=report.worker
            )
    except NewsletterError as exc:
        outcome.action, outcome.message = "error", f"cannot send {row.slug}: {exc}"
        log.error(outcome.message, extra={"fields": {**fields, "event": "error"}})
        return outcome
    outcome.status = sent.status
    outcome.sent, outcome.failed, outcome.retried = sent.sent, sent.failed, sent.retried
    outcome.skipped, outcome.total = sent.skipped, sent.total
    counts = {
        "sent": sent.sent,
        "failed": sent.failed,
        "retried": sent.retried,
        "skipped": sent.skipped,
        "total": sent.total,
        "status": sent.status,
    }
    fields.update(counts)
    mine = f"{sent.sent} sent by this run"
    if sent.failed:
        mine += f", {sent.failed} failed"
    if sent.status == "paused":
        outcome.action = "paused"
        outcome.message = (
            f"paused {row.slug} ({mine}): {sent.pause_reason}; fix the cause, then "
            f"'newsletter issue resume {row.slug}'"
        )
        log.error(outcome.message, extra={"fields": {**fields, "event": "paused"}})
    elif sent.failed:
        outcome.action = "failed"
        outcome.message = (
            f"{row.slug}: {mine} of {sent.total}; see 'newsletter issue status {row.slug}'"
        )
        log.error(outcome.message, extra={"fields": {**fields, "event": "failed"}})
    elif sent.status == "sent":
        outcome.action = "sent"
        outcome.message = f"sent {row.slug}: {mine}, {sent.total} in all"
        log.info(outcome.message, extra={"fields": {**fields, "event": "sent"}})
    else:
        elsewhere = f"; {sent.in_flight_elsewhere} in flight in another run" * bool(
            sent.in_flight_elsewhere
        )
        waits = {
            "ab-test": "the rest of the audience waits for the A/B test's winner, chosen",
            "local-time": "the next time zone falls due",
        }
        if sent.waiting_for in waits:
            when = format_local(sent.waiting_until, settings.newsletter.tz) or "later"
            elsewhere += f"; {waits[sent.waiting_for]} {when}"
            fields["waiting_for"] = sent.waiting_for
        outcome.message = f"{row.slug} is still sending ({mine}{elsewhere})"
        log.info(outcome.message, extra={"fields": {**fields, "event": "sending"}})
    return outcome


def send_due(
    settings: Settings,
    engine: Engine,
    *,
    clock: Clock,
    include_late: bool = False,
    worker: str | None = None,
    transport: Transport | None = None,
    workers: int | None = None,
) -> DueReport:
    """Claim and send every due edition, resume every interrupted one; see the module doc.

    ``workers`` processes send each edition (``--workers``; None: ``sending.workers``, or
    one per CPU for large audiences; never with a ``transport`` given, as tests do)."""
    report = DueReport(worker=worker or worker_name(), now=clock.now())
    run_id = start_run(engine, report.worker, report.now)
    late_ids = _claim_due(settings, engine, report, include_late)
    for row in _rows(engine, ["sending"]):
        report.outcomes.append(
            _send_one(settings, engine, row, report, clock, transport, late_ids, workers)
        )
    touched = {o.edition_id for o in report.outcomes}
    for row in _rows(engine, ["paused"]):
        if row.id not in touched:
            log.warning(
                f"{row.slug} is paused and waits for 'newsletter issue resume {row.slug}'",
                extra={"fields": {"event": "waiting", "slug": row.slug, "edition_id": row.id}},
            )
    # the confirmation and welcome emails signups queued (for apps with web.queue_interval 0)
    report.emails = send_queued(settings, engine, clock=clock)
    upcoming = _next_scheduled(engine)
    if upcoming is not None:
        report.next_slug, report.next_at = upcoming
    finish_run(
        engine,
        run_id,
        clock.now(),
        ok=report.ok,
        editions=len(report.outcomes),
        sent=report.sent,
        failed=report.failed,
        missed=len(report.missed),
        detail=[o.as_dict() for o in report.outcomes],
    )
    return report
