"""Where an edition stands (counts, rate, ETA) and the delivery report (CSV): who got it,
who did not, and why."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Engine, func, select

from pipeline.clock import Clock, SystemClock
from pipeline.csvcells import safe_cell
from pipeline.sending import ledger
from pipeline.sending.audience import audience_size
from pipeline.sending.editions import Edition
from pipeline.store.tables import deliveries

CSV_FIELDS = [
    "email",
    "subscriber_id",
    "status",
    "delivered",
    "reason",
    "attempts",
    "sent_at",
    "message_id",
    "provider_id",
]
_WHY = {
    "pending": "not sent yet",
    "in_flight": "being sent (or the run stopped while sending: see 'issue resume')",
    "cancelled": "the edition was cancelled",
    "uncertain": "sent, but the answer never came: it may have been delivered",
}
_DELIVERED = {"sent": "yes", "uncertain": "maybe"}


@dataclass(frozen=True)
class EditionStatus:
    slug: str
    status: str
    counts: dict[str, int]
    total: int
    rate: float | None  # messages per second while sending
    eta_seconds: float | None
    started_at: datetime | None
    finished_at: datetime | None
    pause_reason: str | None

    @property
    def remaining(self) -> int:
        return self.counts.get("pending", 0) + self.counts.get("in_flight", 0)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["remaining"] = self.remaining
        return data


@dataclass(frozen=True)
class ZoneProgress:
    """One time zone of a local-time send: when it falls due and how far it is."""

    zone: str
    due_at: datetime | None
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def state(self) -> str:
        left = self.counts.get("pending", 0) + self.counts.get("in_flight", 0)
        return "done" if not left else ("waiting" if left == self.total else "sending")

    def to_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "state": self.state,
            "total": self.total,
            **self.counts,
        }


def zone_progress(engine: Engine, edition_id: int) -> list[ZoneProgress]:
    """Per time zone of a local-time send, earliest first (empty for other editions)."""
    d = deliveries.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(d.zone, func.min(d.not_before), d.status, func.count())
            .where(d.edition_id == edition_id, d.zone.is_not(None))
            .group_by(d.zone, d.status)
        ).all()
    found: dict[str, tuple[datetime | None, dict[str, int]]] = {}
    for zone, due, status, n in rows:
        at, counts = found.setdefault(zone, (due, dict.fromkeys(ledger.ROW_STATES, 0)))
        counts[status] = int(n)
        if due is not None and (at is None or due < at):
            found[zone] = (due, counts)
    return sorted(
        (ZoneProgress(z, at, c) for z, (at, c) in found.items()),
        key=lambda p: (p.due_at is None, p.due_at, p.zone),
    )


def audience_count(
    engine: Engine, list_slugs: list[str], where: ColumnElement[bool] | None = None
) -> int:
    """How many would receive an edition sent now (``where``: a segment's clause)."""
    return audience_size(engine, list_slugs, where)


def edition_audience(engine: Engine, edition: Edition, now: datetime) -> int:
    """How many would receive ``edition`` sent ``now``: its lists, narrowed by its segment
    (resolved at ``now``)."""
    from pipeline.subscribers.audience import segment_filter

    return audience_count(
        engine, edition.lists, segment_filter(engine, edition.segment_condition, now)
    )


def left_to_send(engine: Engine, edition: Edition, now: datetime) -> int:
    """How many recipients ``edition`` has still to reach: its ledger's pending and in
    flight rows, or, before its snapshot, its audience ``now`` (``edition_audience``)."""
    counts = ledger.count_by_status(engine, edition.id)
    if sum(counts.values()):
        return counts["pending"] + counts["in_flight"]
    return edition_audience(engine, edition, now)


def edition_status(
    engine: Engine, edition: Edition, *, clock: Clock | None = None
) -> EditionStatus:
    counts = ledger.count_by_status(engine, edition.id)
    total = sum(counts.values())
    rate: float | None = None
    eta: float | None = None
    first, last = ledger.last_sent_times(engine, edition.id)
    if counts["sent"] and first is not None and last is not None:
        end = last if edition.status != "sending" else (clock or SystemClock()).now()
        span = max((end - first).total_seconds(), 1.0)
        rate = counts["sent"] / span
    remaining = counts["pending"] + counts["in_flight"]
    if rate and remaining:
        eta = remaining / rate
    return EditionStatus(
        edition.slug,
        edition.status,
        counts,
        total,
        rate,
        eta,
        edition.started_at,
        edition.finished_at,
        edition.pause_reason,
    )


def write_report_csv(engine: Engine, edition_id: int, out: TextIO) -> int:
    """One row per recipient of the edition; returns how many rows were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    written = 0
    for row in ledger.report_rows(engine, edition_id):
        delivered = row.status == "sent"
        reason = "" if delivered else (row.error or _WHY.get(row.status, row.status))
        writer.writerow(
            [
                safe_cell(row.email),
                row.subscriber_id if row.subscriber_id is not None else "",
                row.status,
                _DELIVERED.get(row.status, "no"),
                safe_cell(reason),
                row.attempts,
                row.sent_at.isoformat() if row.sent_at else "",
                row.message_id or "",
                row.provider_id or "",
            ]
        )
        written += 1
    return written


def failures(engine: Engine, edition_id: int, limit: int = 20) -> list[tuple[str, str, str]]:
    """The first failed, uncertain or skipped rows: (email, status, reason)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.email, deliveries.c.status, deliveries.c.error)
            .where(
                deliveries.c.edition_id == edition_id,
                deliveries.c.status.in_(["failed", "uncertain", "skipped"]),
            )
            .order_by(deliveries.c.id)
            .limit(limit)
        ).all()
    return [(r[0], r[1], r[2] or "") for r in rows]


def failure_reasons(
    engine: Engine, edition_id: int, status: str = "failed", limit: int = 3
) -> list[tuple[str, int]]:
    """The commonest errors of the rows in ``status``: (error, how many), most first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.error, func.count().label("n"))
            .where(deliveries.c.edition_id == edition_id, deliveries.c.status == status)
            .group_by(deliveries.c.error)
            .order_by(func.count().desc(), deliveries.c.error)
            .limit(limit)
        ).all()
    return [(r.error or status, int(r.n)) for r in rows]
