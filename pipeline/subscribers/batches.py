"""Applying one batch of checked rows to the database, in the caller's transaction.

Per batch there is a fixed number of queries: the batch's addresses, suppression hashes and
existing subscriptions are looked up with ``IN (...)``, and every write is one
``executemany`` (through ``bulk``, below SQLAlchemy's per-value processing). Each row is
applied as "make it so", so applying a batch twice changes nothing the second time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, update

from pipeline.store.tables import (
    subscribers,
    subscription_log,
    subscriptions,
    suppressions,
    utcnow,
)
from pipeline.subscribers.bulk import Values, insert_rows, json_value, select_in
from pipeline.subscribers.decision import Asked, Held, Step, decide_subscription
from pipeline.subscribers.formats import Entry, Format
from pipeline.subscribers.suppression import STATUS_FOR
from pipeline.subscribers.tags import add_tags_in, tags_in

MAX_NAME = 200


@dataclass(slots=True)
class Item:
    line: int
    email: str
    digest: str
    entry: Entry
    list_ids: tuple[int, ...]


@dataclass
class Context:
    fmt: Format
    header: list[str]
    keys: list[str]
    known: dict[str, int]
    default_lists: tuple[int, ...] | None
    default_status: str
    consent_text: str
    salt: str
    check_dns: bool
    digest: Callable[[str], str]  # the salted hash of a normalised address (salted_hasher)


@dataclass(slots=True)
class _State:
    """What a batch knows about one address."""

    id: int | None
    name: str
    attributes: dict[str, Any]
    status: str
    subs: dict[int, str] = field(default_factory=dict)
    new: bool = False
    dirty: bool = False
    created_at: datetime | None = None
    tags: set[str] = field(default_factory=set)


SUB_COLUMNS = (
    "subscriber_id", "list_id", "status", "consent_at", "consent_method", "consent_text",
    "consent_ip", "confirmed_at", "confirm_ip", "unsubscribed_at", "updated_at",
)  # fmt: skip
LOG_COLUMNS = (
    "subscriber_id", "list_id", "action", "old_status", "new_status", "method", "detail",
    "ip", "at",
)  # fmt: skip


def apply_batch(conn: Connection, batch: list[Item], ctx: Context) -> Counter[str]:
    """Apply ``batch`` inside the open transaction of ``conn``; returns the counts of rows
    added, updated, unchanged, suppressed and newly suppressed."""
    now = utcnow()
    values = Values(conn)
    restore = ctx.fmt.name == "newsletter"
    counts: Counter[str] = Counter()
    emails = list(dict.fromkeys(i.email for i in batch))
    digests = list(dict.fromkeys(i.digest for i in batch))
    supp: dict[str, str] = dict(
        select_in(
            conn,
            "SELECT address_hash, reason FROM suppressions WHERE address_hash IN ({marks})",
            digests,
        )
    )
    state: dict[str, _State] = {}
    for id_, email, name, attrs, status in select_in(
        conn,
        "SELECT id, email, name, attributes, status FROM subscribers WHERE email IN ({marks})",
        emails,
    ):
        state[email] = _State(id_, name, dict(json_value(attrs) or {}), status)
    by_id = {s.id: s for s in state.values()}
    for sid, list_id, sub_status in select_in(
        conn,
        "SELECT subscriber_id, list_id, status FROM subscriptions WHERE subscriber_id IN ({marks})",
        list(by_id),
    ):
        by_id[sid].subs[list_id] = sub_status
    for sid, tags in tags_in(conn, [i for i in by_id if i is not None]).items():
        by_id[sid].tags.update(tags)

    now_v = values.time(now)
    detail_v = values.json({"file": ctx.consent_text})
    source = ("import: " + ctx.consent_text)[:200]
    new_supps: list[tuple[Any, ...]] = []
    to_suppress: list[tuple[_State, str]] = []
    sub_rows: list[tuple[_State, tuple[Any, ...]]] = []  # (whose, row without their id)
    confirms: list[dict[str, Any]] = []
    logs: list[tuple[_State, tuple[Any, ...]]] = []  # (whose, log row without their id)
    default_status = ctx.default_status
    added = updated = unchanged = 0
    tagged: list[tuple[_State, tuple[str, ...]]] = []  # tags are added, never removed

    for item in batch:
        entry = item.entry
        reason = supp.get(item.digest)
        st = state.get(item.email)
        if entry.suppress is not None:
            counts["suppressed"] += 1
            if reason is None:
                supp[item.digest] = entry.suppress
                counts["newly_suppressed"] += 1
                new_supps.append((item.digest, entry.suppress, source, now_v))
                if st is not None and not st.new:
                    to_suppress.append((st, entry.suppress))
            continue
        decision = decide_subscription(
            _held(st, reason),
            Asked(  # (positional: faster, for every row)
                item.list_ids,
                entry.status or default_status,
                entry.name,
                entry.attributes,
                False,  # resubscribe
                entry.tags,
            ),
        )
        if decision.suppressed:
            counts["suppressed"] += 1
            continue
        if st is None:
            st = _State(
                None,
                decision.name or "",
                decision.attributes or {},
                "active",
                new=True,
                created_at=entry.created_at or now,
            )
            state[item.email] = st
        else:
            if decision.name is not None:
                st.name, st.dirty = decision.name, True
            if decision.attributes is not None:
                st.attributes, st.dirty = decision.attributes, True
        if decision.tags:
            st.tags.update(decision.tags)
            tagged.append((st, decision.tags))
        for step in decision.steps:
            if step.action == "subscribe":
                st.subs[step.list_id] = step.new
                sub_rows.append((st, _subscription_row(values, entry, step, restore, now, ctx)))
            elif step.action == "confirm" and st.id is not None:
                st.subs[step.list_id] = "confirmed"
                confirms.append(
                    {
                        "b_sid": st.id,
                        "b_lid": step.list_id,
                        "b_at": entry.confirmed_at or now,
                        "b_ip": entry.confirm_ip,
                    }
                )
            else:  # a confirm of a subscriber this batch creates: its row is not written yet
                continue
            logs.append(
                (
                    st,
                    (
                        step.list_id,
                        step.action,
                        step.old,
                        step.new,
                        "import",
                        detail_v,
                        None,
                        now_v,
                    ),
                )
            )
        if st.new:
            added += 1
        elif decision.changed:
            updated += 1
        else:
            unchanged += 1
    counts["added"] += added
    counts["updated"] += updated
    counts["unchanged"] += unchanged

    _write(conn, values, state, new_supps, to_suppress, sub_rows, confirms, logs, ctx, now)
    by_subscriber: dict[int, list[str]] = {}
    for st, new_tags in tagged:
        if st.id is not None:
            by_subscriber.setdefault(st.id, []).extend(new_tags)
    add_tags_in(conn, by_subscriber)
    return counts


def _held(st: _State | None, reason: str | None) -> Held | None:
    """What the batch knows of one address, as ``decide_subscription`` reads it."""
    if st is None:
        return None if reason is None else Held(status=None, suppressed=reason)
    return Held(st.status, st.name, st.attributes, st.subs, reason, frozenset(st.tags))


def _subscription_row(
    values: Values, entry: Entry, step: Step, restore: bool, now: datetime, ctx: Context
) -> tuple[Any, ...]:
    """A new subscription row (without the subscriber id) with the consent facts of the
    file: restored as exported for our own format, filled in for the others."""
    status = step.new
    consent_at = entry.consent_at if restore else entry.consent_at or now
    confirmed_at = entry.confirmed_at
    if not restore and status == "confirmed" and confirmed_at is None:
        confirmed_at = consent_at
    unsubscribed_at = entry.unsubscribed_at
    if not restore and status == "unsubscribed" and unsubscribed_at is None:
        unsubscribed_at = now
    text = entry.consent_text if entry.consent_text is not None else ctx.consent_text
    return (
        step.list_id,
        status,
        values.time(consent_at),
        entry.consent_method or "import",
        text,
        entry.consent_ip,
        values.time(confirmed_at),
        entry.confirm_ip,
        values.time(unsubscribed_at),
        values.time(now),
    )


def _write(
    conn: Connection,
    values: Values,
    state: dict[str, _State],
    new_supps: list[tuple[Any, ...]],
    to_suppress: list[tuple[_State, str]],
    sub_rows: list[tuple[_State, tuple[Any, ...]]],
    confirms: list[dict[str, Any]],
    logs: list[tuple[_State, tuple[Any, ...]]],
    ctx: Context,
    now: datetime,
) -> None:
    now_v = values.time(now)
    insert_rows(
        conn,
        suppressions,
        ("address_hash", "reason", "source", "created_at"),
        new_supps,
        ignore_conflicts=True,
    )
    fresh = [(email, st) for email, st in state.items() if st.new]
    if fresh:
        for (_, st), id_ in zip(fresh, _reserve_ids(conn, len(fresh)), strict=True):
            st.id = id_
        insert_rows(
            conn,
            subscribers,
            ("id", "email", "name", "attributes", "status", "created_at", "updated_at"),
            [
                (
                    st.id,
                    email,
                    st.name[:MAX_NAME],
                    values.json(st.attributes),
                    "active",
                    values.time(st.created_at),
                    now_v,
                )
                for email, st in fresh
            ],
        )
    dirty = [st for st in state.values() if st.dirty and not st.new]
    if dirty:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == bindparam("b_id"))
            .values(name=bindparam("b_name"), attributes=bindparam("b_attrs"), updated_at=now),
            [{"b_id": st.id, "b_name": st.name, "b_attrs": st.attributes} for st in dirty],
        )
    log_rows = [(st.id, *row) for st, row in logs]
    if to_suppress:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == bindparam("b_id"))
            .values(status=bindparam("b_status"), updated_at=now),
            [{"b_id": st.id, "b_status": STATUS_FOR[reason]} for st, reason in to_suppress],
        )
        ending = [st for st, reason in to_suppress if reason in ("unsubscribed", "manual")]
        if ending:
            conn.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.subscriber_id.in_([st.id for st in ending]),
                    subscriptions.c.status != "unsubscribed",
                )
                .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
            )
        for st, reason in to_suppress:
            detail = values.json({"file": ctx.consent_text, "reason": reason})
            log_rows.append(
                (
                    st.id,
                    None,
                    "suppress",
                    st.status,
                    STATUS_FOR[reason],
                    "import",
                    detail,
                    None,
                    now_v,
                )
            )
    insert_rows(conn, subscriptions, SUB_COLUMNS, [(st.id, *row) for st, row in sub_rows])
    if confirms:
        conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.subscriber_id == bindparam("b_sid"),
                subscriptions.c.list_id == bindparam("b_lid"),
                subscriptions.c.status == "unconfirmed",
            )
            .values(
                status="confirmed",
                confirmed_at=bindparam("b_at"),
                confirm_ip=bindparam("b_ip"),
                updated_at=now,
            ),
            confirms,
        )
    insert_rows(conn, subscription_log, LOG_COLUMNS, log_rows)


def _reserve_ids(conn: Connection, n: int) -> list[int]:
    """``n`` new subscriber ids: from the sequence on PostgreSQL; on SQLite, after the
    largest id (safe: the transaction holds the database's write lock, BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('subscribers', 'id'))"
            " FROM generate_series(1, %s)",
            (n,),
        )
        return [int(r[0]) for r in rows]
    last = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM subscribers").scalar_one()
    return list(range(int(last) + 1, int(last) + 1 + n))
