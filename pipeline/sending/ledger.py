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

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    any_,
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
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from pipeline.store.tables import (
    deliveries,
    editions,
    lists,
    subscribers,
    subscriptions,
    utcnow,
)
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
    *,
    empty: bool = False,
    first: int | None = None,
    after: int | None = None,
) -> int:
    """INSERT ... SELECT the eligible audience as ``pending`` rows; ``where`` is the
    edition's segment, resolved here and only here. ``first``: only the first that many
    (by subscriber id), without fresh statistics; ``after``: only the subscribers whose
    id is above it (the rest of a snapshot taken in two parts, ``start_edition``).

    Rows already there are left alone by ``ON CONFLICT DO NOTHING`` (no per-row probe of
    the ledger, so the plan stays linear whatever the statistics). ``empty``: the caller
    knows the edition has no rows yet (checked under the edition's lock), so nothing can
    conflict and the rows are inserted plainly: PostgreSQL's speculative insertion for ON
    CONFLICT cost 85 ms of 490 for 20,000 rows (measured); the unique constraint still
    refuses a duplicate. PostgreSQL then gets fresh statistics for the ledger, which has
    just grown by the whole audience."""
    chosen = audience_select(list_slugs, where)
    if after is not None:
        chosen = chosen.where(subscribers.c.id > after)
    if first is not None:
        chosen = chosen.limit(first)
    audience = chosen.subquery()
    rows = select(
        literal(edition_id),
        audience.c.id,
        audience.c.email,
        literal("pending"),
        literal(0),
        func.current_timestamp(),
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(deliveries).from_select(
        ["edition_id", "subscriber_id", "email", "status", "attempts", "updated_at"], rows
    )
    if not empty:
        stmt = stmt.on_conflict_do_nothing()
    added = int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount or 0)
    if added and first is None and conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE deliveries"))
    return added


#: How many recipients the first part of a snapshot taken in two parts holds (four claims
#: of 500): sending starts on them while the rest is added (``start_edition``).
FIRST_PART = 2000


@dataclass(frozen=True)
class SnapshotPlan:
    """What the snapshot does beyond the audience: an A/B test's sample (``variants``
    subjects, ``sample`` a share) and local-time sending (``local``: the wall-clock time,
    ``default_zone`` for readers without a known zone)."""

    variants: int = 0
    sample: float = 0.0
    local: datetime | None = None
    default_zone: str = "UTC"


def start_edition(
    engine: Engine,
    edition_id: int,
    list_slugs: Sequence[str],
    now: datetime,
    worker: str,
    segment_condition: str | None = None,
    plan: SnapshotPlan | None = None,
    *,
    first_part: int | None = None,
) -> bool:
    """frozen/scheduled -> sending and the snapshot, in one transaction; a run that joins an
    edition already sending snapshots only when the ledger is still empty. True if this
    caller started the send. ``plan``: the A/B sample and the local-time zones, assigned
    in the same transaction (a crash or a second sender never sees rows without them).

    On PostgreSQL, an edition without A/B test or local time whose audience is larger
    than ``first_part`` (default ``FIRST_PART``) is snapshotted in two parts: its first
    ``first_part`` recipients (by subscriber id) here, and the edition's
    ``snapshot_after`` says the rest is still to be added, by ``complete_snapshot`` (the
    engine runs it beside the first messages; a run that finds nothing to claim runs it
    before anything else, so an edition is never marked sent before its whole audience
    is in the ledger). Sending starts after the first part instead of the whole: at
    20,000 recipients 0.02 s instead of 0.25 s. SQLite, whose writers take turns, takes
    the whole snapshot at once.

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
            plain = plan is None or not (plan.variants or plan.local is not None)
            first = None  # PostgreSQL, a plain edition: its first part now, the rest beside
            if empty and plain and conn.dialect.name == "postgresql":
                first = first_part or FIRST_PART
            added = snapshot_audience(conn, edition_id, list_slugs, where, empty=empty, first=first)
            if first is not None and added >= first:  # maybe more: the rest comes later
                last = conn.execute(
                    select(func.max(deliveries.c.subscriber_id)).where(
                        deliveries.c.edition_id == edition_id
                    )
                ).scalar_one()
                conn.execute(
                    update(editions).where(editions.c.id == edition_id).values(snapshot_after=last)
                )
            if added and plan is not None and plan.variants:
                assign_sample(conn, edition_id, plan.variants, plan.sample)
            if added and plan is not None and plan.local is not None:
                assign_zones(conn, edition_id, plan.local, plan.default_zone)
    return bool(started)


def snapshot_incomplete(engine: Engine, edition_id: int) -> bool:
    """Whether the edition's snapshot still has a part to add (``start_edition``)."""
    with engine.connect() as conn:
        return (
            conn.execute(
                select(editions.c.snapshot_after).where(editions.c.id == edition_id)
            ).scalar()
            is not None
        )


def complete_snapshot(engine: Engine, edition_id: int) -> int:
    """Add the rest of a snapshot taken in two parts (``start_edition``): the audience
    after the first part's last subscriber, as the edition's segment selects it at the
    time the send started; returns the rows added. Under the edition's row lock, so that
    of several runs one adds it and the others wait for it (then find nothing to do).
    Only while the edition is ``sending``: a paused edition gets it when it is resumed,
    a cancelled one never."""
    with engine.begin() as conn:
        row = conn.execute(
            select(
                editions.c.status,
                editions.c.snapshot_after,
                editions.c.lists,
                editions.c.segment_condition,
                editions.c.started_at,
            )
            .where(editions.c.id == edition_id)
            .with_for_update(key_share=True)
        ).first()
        if row is None or row.snapshot_after is None or row.status != "sending":
            return 0
        where = segment_filter(engine, row.segment_condition, row.started_at or utcnow())
        # Plain INSERT: rows above ``snapshot_after`` cannot exist yet (they are added
        # here, under this lock, in the transaction that clears it).
        added = snapshot_audience(
            conn, edition_id, list(row.lists), where, empty=True, after=row.snapshot_after
        )
        conn.execute(
            update(editions).where(editions.c.id == edition_id).values(snapshot_after=None)
        )
    return added


def sample_sizes(total: int, variants: int, share: float) -> list[int]:
    """How many rows of ``total`` each variant gets in the sample: ``share`` of them (at
    least one per variant, at most all), split evenly (the first variants take the rest
    of the division)."""
    size = min(total, max(variants, round(total * share)))
    return [size // variants + (1 if i < size % variants else 0) for i in range(variants)]


def assign_sample(conn: Connection, edition_id: int, variants: int, share: float) -> list[int]:
    """Give a random sample of the edition's rows a variant each (``in_sample``), evenly;
    the other rows keep no variant until the winner is chosen. Returns the sizes."""
    total = int(
        conn.execute(select(func.count()).where(deliveries.c.edition_id == edition_id)).scalar_one()
    )
    sizes = sample_sizes(total, variants, share)
    for variant, size in enumerate(sizes):
        chosen = (
            select(deliveries.c.id)
            .where(deliveries.c.edition_id == edition_id, deliveries.c.variant.is_(None))
            .order_by(func.random())
            .limit(size)
            .scalar_subquery()
        )
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(chosen))
            .values(variant=variant, in_sample=True)
        )
    return sizes


def assign_zones(conn: Connection, edition_id: int, local: datetime, default_zone: str) -> None:
    """Give every row of the edition its reader's zone and the instant ``local`` falls in
    it (``not_before``); see ``pipeline.sending.localtime``."""
    from pipeline.sending.localtime import known_zone, local_instant
    from pipeline.subscribers.segments.query import field_text

    path = '$."timezone"' if conn.dialect.name == "sqlite" else "timezone"
    raw = field_text(subscribers.c.attributes, literal(path))
    found = conn.execute(
        select(raw.label("zone"))
        .select_from(deliveries.join(subscribers, subscribers.c.id == deliveries.c.subscriber_id))
        .where(deliveries.c.edition_id == edition_id)
        .group_by(raw)
    ).all()
    fallback = known_zone(default_zone) or known_zone("UTC")
    assert fallback is not None
    by_zone: dict[str, list[str | None]] = {}
    for (name,) in found:
        zone = name if known_zone(name) is not None else default_zone
        by_zone.setdefault(zone, []).append(name)
    for zone, names in by_zone.items():
        tz = known_zone(zone) or fallback
        values = {"zone": zone, "not_before": local_instant(local, tz)}
        listed = [n for n in names if n is not None]
        whose: ColumnElement[bool] | None = raw.in_(listed) if listed else None
        if None in names:
            whose = raw.is_(None) if whose is None else or_(whose, raw.is_(None))
        assert whose is not None
        ids = select(subscribers.c.id).where(whose).scalar_subquery()
        conn.execute(
            update(deliveries)
            .where(deliveries.c.edition_id == edition_id, deliveries.c.subscriber_id.in_(ids))
            .values(**values)
        )
    # Rows of people erased meanwhile (no subscriber): the newsletter's zone.
    conn.execute(
        update(deliveries)
        .where(deliveries.c.edition_id == edition_id, deliveries.c.zone.is_(None))
        .values(zone=str(fallback), not_before=local_instant(local, fallback))
    )


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
    variant: int | None = None  # the A/B test's subject variant of the row


def claimable(edition_id: int, now: datetime, *, ab_test: bool = False) -> list[Any]:
    """The conditions of a pending row that may be claimed ``now``: its retry is due, its
    local time has come, and (in an A/B test) it has a variant: the sample, or the rest
    once the winner is chosen."""
    where = [
        deliveries.c.edition_id == edition_id,
        deliveries.c.status == "pending",
        or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
        or_(deliveries.c.not_before.is_(None), deliveries.c.not_before <= now),
    ]
    if ab_test:
        where.append(deliveries.c.variant.is_not(None))
    return where


def claim_batch(
    engine: Engine,
    edition_id: int,
    list_slugs: Sequence[str],
    *,
    limit: int,
    claim_id: str,
    now: datetime,
    ab_test: bool = False,
    after: int = 0,
) -> list[Claimed]:
    """Claim up to ``limit`` due pending rows (``claimable``) with ids above ``after``;
    return them, in id order, with the subscriber's current name and whether they may
    still receive the edition.

    ``after`` keeps a long send linear: a run passes the last id it claimed, so each claim
    reads on from there instead of walking past every row already sent. PostgreSQL, whose
    statistics were taken when every row was pending, otherwise walks the primary key from
    the first id and filters: 0.72 s a claim at 940,000 rows sent of 1,000,000 (measured),
    a send that slows down as it goes."""
    with engine.begin() as conn:
        due = (
            select(deliveries.c.id)
            .where(*claimable(edition_id, now, ab_test=ab_test), deliveries.c.id > after)
            .order_by(deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if conn.dialect.name == "postgresql":
            # ANY(ARRAY(...)): the ids first, then each row by its key. With IN, PostgreSQL
            # hashes the ids and scans the whole ledger for them at every claim.
            held = deliveries.c.id == any_(func.array(due.scalar_subquery()))
        else:
            held = deliveries.c.id.in_(due.scalar_subquery())
        taken = conn.execute(
            update(deliveries)
            .where(held)
            .values(
                status="in_flight",
                claim_id=claim_id,
                claimed_at=now,
                attempts=deliveries.c.attempts + 1,
                updated_at=now,
            )
        ).rowcount
        if not taken:
            return []
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
                deliveries.c.variant,
            )
            .select_from(
                deliveries.outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            )
            .where(
                deliveries.c.edition_id == edition_id,
                deliveries.c.status == "in_flight",  # the index's way to the few rows held
                deliveries.c.claim_id == claim_id,
            )
            .order_by(deliveries.c.id)
        )
        rows = conn.execute(query).tuples().all()
    # Positional, in the select's order: a claim reads hundreds of rows for every batch,
    # and reading each column by name cost as much as the query.
    return [
        Claimed(
            row_id,
            subscriber_id,
            email,
            name or "",
            attempts,
            bool(eligible) and subscriber_id is not None,
            subscriber_id is None,
            dict(attributes) if attributes else {},
            bool(tracking),
            public_id or "",
            variant,
        )
        for (
            row_id,
            subscriber_id,
            email,
            name,
            attributes,
            public_id,
            attempts,
            eligible,
            tracking,
            variant,
        ) in rows
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


# One statement for every write of answers: built once, its compiled form is reused.
_RECORD = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.claim_id == bindparam("b_claim"))
    .values(
        status=bindparam("b_status"),
        message_id=bindparam("b_message_id"),
        provider_id=bindparam("b_provider_id"),
        error=bindparam("b_error"),
        next_attempt_at=bindparam("b_next"),
        sent_at=bindparam("b_sent_at"),
        claim_id=None,
        updated_at=bindparam("b_now"),
    )
)


def record_outcomes(
    engine: Engine | Connection, claim_id: str, outcomes: Sequence[Outcome], now: datetime
) -> int:
    """Write outcomes for rows still held by ``claim_id``, in one transaction (on a
    connection the caller keeps open, or a new one); return how many were written."""
    if not outcomes:
        return 0
    # In id order: every writer of these rows locks them in the same order.
    ordered = [_storable(o) for o in sorted(outcomes, key=lambda o: o.delivery_id)]
    with _connection(engine) as conn:
        stamp = _stamp(conn.dialect)
        at = stamp(now)
        if conn.dialect.name == "postgresql":
            if conn.connection.dbapi_connection.autocommit:  # type: ignore[union-attr]
                # The writer's connection: the statement is its own transaction.
                return _record_postgresql(conn, claim_id, ordered, at, stamp)
            with conn.begin():
                return _record_postgresql(conn, claim_id, ordered, at, stamp)
        return _record_rows(conn, claim_id, ordered, at, stamp)


def _record_rows(
    conn: Connection,
    claim_id: str,
    ordered: Sequence[Outcome],
    at: Any,
    stamp: Callable[[Any], Any],
) -> int:
    """``record_outcomes`` on SQLite: one UPDATE per answer, executed as one batch."""
    with conn.begin():
        sql, names = _record_sql(conn.dialect)
        rows: list[Any] = [
            {
                "b_id": o.delivery_id,
                "b_claim": claim_id,
                "b_status": o.status,
                "claim_id": None,
                "b_message_id": o.message_id,
                "b_provider_id": o.provider_id,
                "b_error": o.error,
                "b_next": None if o.next_attempt_at is None else stamp(o.next_attempt_at),
                "b_sent_at": at if o.status == "sent" else None,
                "b_now": at,
            }
            for o in ordered
        ]
        if names is not None:  # a positional paramstyle (SQLite's qmark)
            rows = [tuple(row[name] for name in names) for row in rows]
        result = conn.exec_driver_sql(sql, rows)
    return int(result.rowcount or 0)


def _storable(outcome: Outcome) -> Outcome:
    """The outcome with any NUL character in its texts replaced by U+FFFD: a relay's
    reply may hold one, and PostgreSQL's text cannot (the write would fail, again at every
    retry, and stop the send)."""
    texts = (outcome.error, outcome.provider_id, outcome.message_id)
    if not any(t and "\x00" in t for t in texts):
        return outcome
    return replace(
        outcome,
        error=_no_nul(outcome.error),
        provider_id=_no_nul(outcome.provider_id),
        message_id=_no_nul(outcome.message_id),
    )


def _no_nul(text: str | None) -> str | None:
    return None if text is None else text.replace("\x00", "\ufffd")


_RECORD_SQL: dict[str, tuple[str, tuple[str, ...] | None]] = {}
_STAMP: dict[str, Callable[[Any], Any]] = {}


def _stamp(dialect: Dialect) -> Callable[[Any], Any]:
    """How a timestamp is bound on ``dialect`` (UTCDateTime's: aware, in UTC), looked up
    once per dialect."""
    found = _STAMP.get(dialect.name)
    if found is None:
        processor = deliveries.c.updated_at.type.bind_processor(dialect)
        found = _STAMP[dialect.name] = processor or (lambda value: value)
    return found


# PostgreSQL: every answer of a write in one statement, so that on the writer's connection
# (autocommit, ``writer_connection``) a write is one round trip, not four (BEGIN, SET,
# UPDATE, COMMIT): the transport waits on these writes once enough answers are unwritten,
# and the round trips were most of their time. The answers go as one JSON parameter
# (``json_to_recordset``): psycopg adapts a list to an array in Python, and seven arrays
# cost 300 us of the sender's CPU for every write of 4 answers (measured), the JSON 40 us.
# The ids also go as one array, for ``d.id = ANY(...)``: the plan is made once, for any
# ledger (``writer_connection``), and it must find the rows by key. Joined to the JSON
# alone (100 rows to the planner), a small ledger was scanned whole at every write.
# The statement also turns the WAL wait off for its own transaction
# (``set_config(..., true)``, as SET LOCAL): if the PostgreSQL server itself crashes (not
# the sender), the answers of the last fraction of a second may be lost; those rows are
# then still in flight and are resent, the same at-most-the-messages-in-flight duplicates
# as after a crash of the sender (DESIGN.md). The database is never inconsistent. Rows
# are joined in the order given (by id).
_RECORD_POSTGRESQL = (
    "WITH no_wal_wait AS MATERIALIZED "
    "(SELECT set_config('synchronous_commit', 'off', true) AS setting) "
    "UPDATE deliveries AS d SET status = v.s, message_id = v.m, provider_id = v.p, "
    "error = v.e, next_attempt_at = v.n, "
    "sent_at = CASE WHEN v.s = 'sent' THEN %(now)s::timestamptz END, "
    "claim_id = NULL, updated_at = %(now)s::timestamptz "
    "FROM no_wal_wait, json_to_recordset(%(rows)s::json) "
    "AS v(i integer, s varchar, m varchar, p varchar, e text, n timestamptz) "
    "WHERE d.id = ANY(%(ids)s::integer[]) AND d.id = v.i AND d.claim_id = %(claim)s"
)


def _record_postgresql(
    conn: Connection,
    claim_id: str,
    ordered: Sequence[Outcome],
    at: Any,
    stamp: Callable[[Any], Any],
) -> int:
    rows = [
        {
            "i": o.delivery_id,
            "s": o.status,
            "m": o.message_id,
            "p": o.provider_id,
            "e": o.error,
            "n": None if o.next_attempt_at is None else stamp(o.next_attempt_at).isoformat(),
        }
        for o in ordered
    ]
    params = {
        "now": at,
        "claim": claim_id,
        "ids": [o.delivery_id for o in ordered],
        "rows": json.dumps(rows, ensure_ascii=False),
    }
    # On psycopg's own cursor: SQLAlchemy's execution context cost a third of the
    # writer's CPU (166 against 111 us a write of 4 answers, measured), on a machine whose
    # cores the relay needs. Its errors are raised as SQLAlchemy's, as for any statement.
    dbapi = conn.dialect.loaded_dbapi
    try:
        with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(_RECORD_POSTGRESQL, params)
            return int(cursor.rowcount or 0)
    except dbapi.Error as exc:
        raise DBAPIError.instance(_RECORD_POSTGRESQL, params, exc, dbapi.Error) from exc


def writer_connection(engine: Engine) -> Connection:
    """A connection for writing answers as they come (``close_writer`` closes it). On
    PostgreSQL it is in autocommit: ``record_outcomes`` is then one statement and one
    round trip (its own transaction). It also plans that statement once (a generic plan):
    PostgreSQL would otherwise plan it again at every write, because the plan for the few
    rows it is given always looks cheaper than the generic one; the planning cost three
    times the update itself (0.93 s against 0.29 s of the server's CPU for 2,500 writes
    of 8 rows, measured)."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            conn.commit()  # ends SQLAlchemy's autobegun transaction (nothing on the server)
        except DBAPIError:
            close_writer(conn, failed=True)
            raise
    return conn


def close_writer(conn: Connection, *, failed: bool = False) -> None:
    """Close a ``writer_connection``. Its setting is reset first, so that the pool hands
    the connection out again as it came; after a failure (``failed``) the connection is
    discarded instead, whatever state it is in."""
    if conn.dialect.name == "postgresql":
        if failed:
            conn.invalidate()
        else:
            with contextlib.suppress(DBAPIError):
                conn.exec_driver_sql("RESET plan_cache_mode")
    conn.close()


def _record_sql(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """``_RECORD`` compiled once per dialect: its SQL, and the order of its parameters when
    they are positional. Answers are written thousands of times a second, and SQLAlchemy's
    per-execution work cost three times the database's."""
    found = _RECORD_SQL.get(dialect.name)
    if found is None:
        compiled = _RECORD.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ()) if dialect.positional else None
        found = _RECORD_SQL[dialect.name] = (str(compiled), names)
    return found


@contextlib.contextmanager
def _connection(engine: Engine | Connection) -> Iterator[Connection]:
    """``engine`` itself when it is a connection (kept open by the caller), else a new one."""
    if isinstance(engine, Connection):
        yield engine
    else:
        with engine.connect() as conn:
            yield conn


def renew_claim(engine: Engine, claim_id: str, now: datetime, edition_id: int | None = None) -> int:
    """The heartbeat: the rows still held by ``claim_id`` were claimed ``now`` (a live run
    keeps its claim however slow the relay). Returns how many rows it renewed.

    Rows locked at that moment are skipped (PostgreSQL ``SKIP LOCKED``): they are the ones
    whose answers are being written, which ends the claim on them anyway. Waiting for them
    instead, in another order than the writer's, was a deadlock (seen in a 1,000,000-row
    send with two workers). ``edition_id`` lets the edition's index find the rows."""
    held = [deliveries.c.claim_id == claim_id, deliveries.c.status == "in_flight"]
    if edition_id is not None:
        held.append(deliveries.c.edition_id == edition_id)
    rows = select(deliveries.c.id).where(*held).with_for_update(skip_locked=True)
    with engine.begin() as conn:
        result = conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(rows.scalar_subquery()))
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


@dataclass(frozen=True)
class Waiting:
    """Why pending rows of an edition cannot be claimed now."""

    due_now: int = 0  # rows that may be claimed at once (another run's, given back)
    retry_at: datetime | None = None  # the first retry that is not due yet
    zone_at: datetime | None = None  # the first local time still to come
    held: int = 0  # rows of an A/B test waiting for the winner


def waiting(engine: Engine, edition_id: int, now: datetime, *, ab_test: bool = False) -> Waiting:
    """What the pending rows that cannot be claimed now are waiting for."""
    base = [deliveries.c.edition_id == edition_id, deliveries.c.status == "pending"]
    if ab_test:
        base.append(deliveries.c.variant.is_not(None))
    with engine.connect() as conn:
        due_now = int(
            conn.execute(
                select(func.count()).where(*claimable(edition_id, now, ab_test=ab_test))
            ).scalar_one()
        )
        zone_at = conn.execute(
            select(func.min(deliveries.c.not_before)).where(*base, deliveries.c.not_before > now)
        ).scalar()
        retry_at = conn.execute(
            select(func.min(deliveries.c.next_attempt_at)).where(
                *base,
                or_(deliveries.c.not_before.is_(None), deliveries.c.not_before <= now),
                deliveries.c.next_attempt_at > now,
            )
        ).scalar()
        held = 0
        if ab_test:
            held = int(
                conn.execute(
                    select(func.count()).where(
                        deliveries.c.edition_id == edition_id,
                        deliveries.c.status == "pending",
                        deliveries.c.variant.is_(None),
                    )
                ).scalar_one()
            )
    return Waiting(due_now, retry_at, zone_at, held)


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
