"""The delivery ledger's SQL: one row per (edition, subscriber), and every state change.

Row states:

    pending ──claim──> in_flight ──> sent | failed | pending (transient, retried later)
                                 └──> uncertain (sent, but the answer never came)
    pending ──> skipped (unsubscribed/suppressed after the snapshot) | cancelled

A claim moves a batch of due ``pending`` rows to ``in_flight`` with a claim id in one
transaction (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite's ``BEGIN IMMEDIATE`` makes
the transaction exclusive). While the claim's run lives it renews ``claimed_at``
(``renew_claim``, the heartbeat), so only the rows of a run that stopped are reclaimed.
Results are written as they come (``record_outcomes``) and only while the claim is ours.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.store.tables import deliveries, editions, lists, subscribers, subscriptions
from pipeline.subscribers.audience import audience_select, segment_filter

ROW_STATES: tuple[str, ...] = (
    "pending",
    "in_flight",
    "sent",
    "failed",
    "uncertain",
    "skipped",
    "cancelled",
)


# ---- snapshot: the audience, once, in one statement ------------------------------------
def snapshot_audience(
    conn: Connection,
    edition_id: int,
    list_slugs: Sequence[str],
    where: ColumnElement[bool] | None = None,
) -> int:
    """INSERT ... SELECT the eligible audience as ``pending`` rows; ``where`` is the
    edition's segment, resolved here and only here. Rows already there are left alone by
    ``ON CONFLICT DO NOTHING`` (no per-row probe of the ledger, so the plan stays linear
    whatever the statistics). PostgreSQL then gets fresh statistics for the ledger, which
    has just grown by the whole audience."""
    audience = audience_select(list_slugs, where).subquery()
    rows = select(
        literal(edition_id),
        audience.c.id,
        audience.c.email,
        literal("pending"),
        literal(0),
        func.current_timestamp(),
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(deliveries)
        .from_select(
            ["edition_id", "subscriber_id", "email", "status", "attempts", "updated_at"], rows
        )
        .on_conflict_do_nothing()
    )
    added = int(conn.execute(stmt).rowcount or 0)
    if added and conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE deliveries"))
    return added


def start_edition(
    engine: Engine,
    edition_id: int,
    list_slugs: Sequence[str],
    now: datetime,
    worker: str,
    segment_condition: str | None = None,
) -> bool:
    """frozen/scheduled -> sending and the snapshot, in one transaction; a run that joins an
    edition already sending snapshots only when the ledger is still empty. True if this
    caller started the send.

    The edition's row is locked first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
    ``BEGIN IMMEDIATE`` locks the database), so of several runs starting at once one takes
    the snapshot while the others wait for it and then join: it never runs twice at once."""
    with engine.begin() as conn:
        conn.execute(
            select(editions.c.id).where(editions.c.id == edition_id).with_for_update()
        ).first()
        started = conn.execute(
            update(editions)
            .where(editions.c.id == edition_id, editions.c.status.in_(["frozen", "scheduled"]))
            .values(status="sending", started_at=now, claimed_by=worker, claimed_at=now)
        ).rowcount
        empty = not conn.execute(
            select(deliveries.c.id).where(deliveries.c.edition_id == edition_id).limit(1)
        ).first()
        if started or empty:
            where = segment_filter(engine, segment_condition, now)
            snapshot_audience(conn, edition_id, list_slugs, where)
    return bool(started)


# ---- claims ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Claimed:
    id: int
    subscriber_id: int | None
    email: str
    name: str
    attempts: int
    eligible: bool
    erased: bool
    attributes: dict[str, Any] = field(default_factory=dict)
    tracking: bool = True  # false: the subscriber turned tracking off
    public_id: str = ""  # the subscriber's random id, for the links in the message


def claim_batch(
    engine: Engine,
    edition_id: int,
    list_slugs: Sequence[str],
    *,
    limit: int,
    claim_id: str,
    now: datetime,
) -> list[Claimed]:
    """Claim up to ``limit`` due pending rows; return them with the subscriber's current
    name and whether they may still receive the edition."""
    with engine.begin() as conn:
        due = (
            select(deliveries.c.id)
            .where(
                deliveries.c.edition_id == edition_id,
                deliveries.c.status == "pending",
                or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
            )
            .order_by(deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [r[0] for r in conn.execute(due)]
        if not ids:
            return []
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(
                status="in_flight",
                claim_id=claim_id,
                claimed_at=now,
                attempts=deliveries.c.attempts + 1,
                updated_at=now,
            )
        )
        confirmed = exists().where(
            subscriptions.c.subscriber_id == subscribers.c.id,
            subscriptions.c.status == "confirmed",
            subscriptions.c.list_id == lists.c.id,
            lists.c.slug.in_(list(list_slugs)),
        )
        query = (
            select(
                deliveries.c.id,
                deliveries.c.subscriber_id,
                deliveries.c.email,
                subscribers.c.name,
                subscribers.c.attributes,
                subscribers.c.public_id,
                deliveries.c.attempts,
                and_(subscribers.c.status == "active", confirmed).label("eligible"),
                subscribers.c.tracking,
            )
            .select_from(
                deliveries.outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            )
            .where(deliveries.c.id.in_(ids))
            .order_by(deliveries.c.id)
        )
        rows = conn.execute(query).all()
    return [
        Claimed(
            id=r.id,
            subscriber_id=r.subscriber_id,
            email=r.email,
            name=r.name or "",
            attempts=r.attempts,
            eligible=bool(r.eligible) and r.subscriber_id is not None,
            erased=r.subscriber_id is None,
            attributes=dict(r.attributes or {}),
            tracking=bool(r.tracking),
            public_id=r.public_id or "",
        )
        for r in rows
    ]


# ---- results ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What to write for one claimed row."""

    delivery_id: int
    status: str  # sent | failed | pending | skipped
    message_id: str | None = None
    provider_id: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


def record_outcomes(
    engine: Engine | Connection, claim_id: str, outcomes: Sequence[Outcome], now: datetime
) -> int:
    """Write outcomes for rows still held by ``claim_id``, in one transaction (on a
    connection the caller keeps open, or a new one); return how many were written."""
    if not outcomes:
        return 0
    stmt = (
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"), deliveries.c.claim_id == claim_id)
        .values(
            status=bindparam("b_status"),
            message_id=bindparam("b_message_id"),
            provider_id=bindparam("b_provider_id"),
            error=bindparam("b_error"),
            next_attempt_at=bindparam("b_next"),
            sent_at=bindparam("b_sent_at"),
            claim_id=None,
            updated_at=now,
        )
    )
    params = [
        {
            "b_id": o.delivery_id,
            "b_status": o.status,
            "b_message_id": o.message_id,
            "b_provider_id": o.provider_id,
            "b_error": o.error,
            "b_next": o.next_attempt_at,
            "b_sent_at": now if o.status == "sent" else None,
        }
        for o in outcomes
    ]
    if isinstance(engine, Connection):
        with engine.begin():
            result = engine.execute(stmt, params)
    else:
        with engine.begin() as conn:
            result = conn.execute(stmt, params)
    return int(result.rowcount or 0)


def renew_claim(engine: Engine, claim_id: str, now: datetime) -> int:
    """The heartbeat: the rows still held by ``claim_id`` were claimed ``now`` (a live run
    keeps its claim however slow the relay). Returns how many rows it holds."""
    with engine.begin() as conn:
        result = conn.execute(
            update(deliveries)
            .where(deliveries.c.claim_id == claim_id, deliveries.c.status == "in_flight")
            .values(claimed_at=now)
        )
    return int(result.rowcount or 0)


# ---- reclaiming, cancelling, retrying --------------------------------------------------
def reclaim_rows(
    engine: Engine,
    edition_id: int,
    now: datetime,
    *,
    older_than: datetime | None = None,
    resend: bool = True,
) -> int:
    """Put in_flight rows (claimed before ``older_than``, or all) back to pending, or mark
    them failed when ``resend`` is off. Returns how many rows were reclaimed."""
    where = [deliveries.c.edition_id == edition_id, deliveries.c.status == "in_flight"]
    if older_than is not None:
        where.append(deliveries.c.claimed_at < older_than)
    values: dict[str, Any] = (
        {"status": "pending", "next_attempt_at": None}
        if resend
        else {
            "status": "failed",
            "error": "in flight when a run stopped; not resent (sending.resend_in_flight is off)",
        }
    )
    with engine.begin() as conn:
        result = conn.execute(
            update(deliveries).where(*where).values(claim_id=None, updated_at=now, **values)
        )
    return int(result.rowcount or 0)


def release_claim(engine: Engine, claim_id: str, now: datetime) -> int:
    """Give back the rows of a claim untouched (the transport could not be used at all)."""
    with engine.begin() as conn:
        result = conn.execute(
            update(deliveries)
            .where(deliveries.c.claim_id == claim_id, deliveries.c.status == "in_flight")
            .values(
                status="pending",
                claim_id=None,
                attempts=deliveries.c.attempts - 1,
                updated_at=now,
            )
        )
    return int(result.rowcount or 0)


def cancel_pending(engine: Engine, edition_id: int, now: datetime) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            update(deliveries)
            .where(deliveries.c.edition_id == edition_id, deliveries.c.status == "pending")
            .values(status="cancelled", updated_at=now)
        )
    return int(result.rowcount or 0)


def requeue_failed(
    engine: Engine, edition_id: int, now: datetime, *, uncertain: bool = False
) -> int:
    """failed (and, when asked, uncertain) rows back to pending with no attempts."""
    states = ["failed", "uncertain"] if uncertain else ["failed"]
    with engine.begin() as conn:
        result = conn.execute(
            update(deliveries)
            .where(deliveries.c.edition_id == edition_id, deliveries.c.status.in_(states))
            .values(status="pending", attempts=0, next_attempt_at=None, error=None, updated_at=now)
        )
    return int(result.rowcount or 0)


# ---- reading ---------------------------------------------------------------------------
def count_by_status(engine: Engine, edition_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.status, func.count())
            .where(deliveries.c.edition_id == edition_id)
            .group_by(deliveries.c.status)
        ).all()
    counts = dict.fromkeys(ROW_STATES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def pending_state(engine: Engine, edition_id: int) -> tuple[int, datetime | None]:
    """How many rows are pending, and the latest next_attempt_at among them (None when
    some are due at once)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.count(),
                func.count(deliveries.c.next_attempt_at),
                func.min(deliveries.c.next_attempt_at),
            ).where(deliveries.c.edition_id == edition_id, deliveries.c.status == "pending")
        ).one()
    if row[0] and row[1] < row[0]:
        return int(row[0]), None
    return int(row[0]), row[2]


def last_sent_times(engine: Engine, edition_id: int) -> tuple[datetime | None, datetime | None]:
    """The first and last sent_at of the edition (for the rate)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(func.min(deliveries.c.sent_at), func.max(deliveries.c.sent_at)).where(
                deliveries.c.edition_id == edition_id, deliveries.c.status == "sent"
            )
        ).one()
    return row[0], row[1]


def report_rows(engine: Engine, edition_id: int, chunk: int = 5000) -> Iterator[Any]:
    """Every ledger row of the edition, by id, in chunks (flat memory)."""
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    deliveries.c.id,
                    deliveries.c.email,
                    deliveries.c.subscriber_id,
                    deliveries.c.status,
                    deliveries.c.attempts,
                    deliveries.c.sent_at,
                    deliveries.c.message_id,
                    deliveries.c.provider_id,
                    deliveries.c.error,
                )
                .where(deliveries.c.edition_id == edition_id, deliveries.c.id > last)
                .order_by(deliveries.c.id)
                .limit(chunk)
            ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
