"""The subscriber API other stages call (web signup, preferences, webhooks, the CLI).

Rules kept here:

- Addresses are normalised (``normalise_email``: lower-cased) before anything else.
- A suppressed address is never subscribed again by an import or an ``add``; only the
  person asking again (``allow_resubscribe=True``: a confirmed web signup, the preferences
  page) lifts an 'unsubscribed' or 'bounced' suppression. 'complained', 'manual' and
  'erased' are never lifted.
- A subscription that was ended (status 'unsubscribed') comes back only with
  ``allow_resubscribe=True`` too.
- Every change writes a row to ``subscription_log``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.store.tables import lists as lists_table
from pipeline.store.tables import subscribers, subscriptions, suppressions, utcnow
from pipeline.subscribers.decision import Asked, Held, Step, decide_subscription, list_steps
from pipeline.subscribers.history import list_ids, log_row, write_log
from pipeline.subscribers.lists import create_list, list_summaries, list_summary, sync_lists
from pipeline.subscribers.normalise import normalise_email
from pipeline.subscribers.suppression import (
    LIFTABLE,
    address_hash,
    hash_with_salt,
    is_suppressed,
    suppress,
    suppress_in,
    suppression_reasons,
    suppression_salt,
)
from pipeline.subscribers.tagnames import split_tags
from pipeline.subscribers.tags import add_tags_in, tags_in

__all__ = [
    "SubscribeResult",
    "SubscriberInfo",
    "add_subscriber",
    "address_hash",
    "confirm_subscription",
    "create_list",
    "get_subscriber",
    "is_suppressed",
    "list_summaries",
    "list_summary",
    "normalise_email",
    "set_lists",
    "set_name",
    "suppress",
    "sync_lists",
    "unsubscribe",
]

METHODS = ("import", "web", "cli", "api")


@dataclass(frozen=True)
class SubscribeResult:
    subscriber_id: int | None  # None when the address is suppressed and has no subscriber row
    created: bool
    suppressed: bool


@dataclass(frozen=True)
class SubscriberInfo:
    id: int
    email: str
    name: str
    status: str  # active | unsubscribed | bounced | complained
    subscriptions: dict[str, str] = field(default_factory=dict)  # list slug -> status
    attributes: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    public_id: str = ""  # random; what links in emails carry


def _retrying(fn: Any) -> Any:
    """Run ``fn`` again once when a concurrent writer made the same row first."""
    try:
        return fn()
    except IntegrityError:
        return fn()


def _lift(
    conn: Connection,
    digest: str,
    subscriber_id: int | None,
    old: str | None,
    *,
    method: str,
    ip: str | None,
    now: datetime,
) -> None:
    conn.execute(delete(suppressions).where(suppressions.c.address_hash == digest))
    if subscriber_id is not None and old != "active":
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id)
            .values(status="active", updated_at=now)
        )
        write_log(
            conn,
            [
                log_row(
                    subscriber_id, None, "resubscribe", old, "active", method=method, at=now, ip=ip
                )
            ],
        )


def add_subscriber(
    engine: Engine,
    email: str,
    *,
    name: str = "",
    lists: Sequence[str],
    method: str,
    consent_text: str = "",
    ip: str | None = None,
    confirmed: bool,
    consent_at: datetime | None = None,
    attributes: Mapping[str, Any] | None = None,
    allow_resubscribe: bool = False,
    tags: Sequence[str] = (),
) -> SubscribeResult:
    """Subscribe ``email`` to ``lists`` (confirmed, or unconfirmed awaiting double opt-in).

    An existing subscriber keeps their confirmed subscriptions and gets the new ones; a
    given name replaces the stored one; attributes are merged; tags (normalised with
    ``tags.split_tags``) are added. Suppressed addresses are left
    alone (``suppressed=True``) unless ``allow_resubscribe`` and the reason can be lifted.
    """
    normalised = normalise_email(email)
    salt = suppression_salt(engine)

    def run() -> SubscribeResult:
        with engine.begin() as conn:
            return add_in(
                conn,
                salt,
                normalised,
                name=name,
                lists=lists,
                method=method,
                consent_text=consent_text,
                ip=ip,
                confirmed=confirmed,
                consent_at=consent_at,
                attributes=attributes,
                allow_resubscribe=allow_resubscribe,
                tags=tags,
                now=utcnow(),
            )

    result: SubscribeResult = _retrying(run)
    return result


def add_in(
    conn: Connection,
    salt: str,
    normalised: str,
    *,
    name: str = "",
    lists: Sequence[str],
    method: str,
    consent_text: str = "",
    ip: str | None = None,
    confirmed: bool,
    consent_at: datetime | None = None,
    attributes: Mapping[str, Any] | None = None,
    allow_resubscribe: bool = False,
    tags: Sequence[str] = (),
    now: datetime,
) -> SubscribeResult:
    """``add_subscriber`` inside the caller's transaction (``normalised``: an address already
    normalised; ``salt``: ``suppression_salt``), for callers that write more in the same
    transaction (the web signup queues its emails with it)."""
    digest = hash_with_salt(salt, normalised)
    name = name.strip()[:200]
    wanted_tags = split_tags(tags)
    ids = list_ids(conn, list(dict.fromkeys(lists)))
    reason = suppression_reasons(conn, [digest]).get(digest)
    row = conn.execute(select(subscribers).where(subscribers.c.email == normalised)).first()
    held = Held(
        status=row.status if row else None,
        name=row.name if row else "",
        attributes=(row.attributes or {}) if row else {},
        subscriptions=_held_subscriptions(conn, row.id) if row else {},
        suppressed=reason,
        tags=frozenset(tags_in(conn, [row.id]).get(row.id, [])) if row else frozenset(),
    )
    asked = Asked(
        lists=list(ids.values()),
        status="confirmed" if confirmed else "unconfirmed",
        name=name,
        attributes=dict(attributes or {}),
        resubscribe=allow_resubscribe,
        tags=wanted_tags,
    )
    decision = decide_subscription(held, asked)
    if decision.suppressed:
        return SubscribeResult(row.id if row else None, False, True)
    if decision.lift:
        _lift(
            conn,
            digest,
            row.id if row else None,
            row.status if row else None,
            method=method,
            ip=ip,
            now=now,
        )
    if row is None:
        inserted = conn.execute(
            subscribers.insert().values(
                email=normalised,
                name=decision.name or "",
                attributes=decision.attributes or {},
                status="active",
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key
        assert inserted is not None
        sub_id = int(inserted[0])
    else:
        sub_id = int(row.id)
        changes: dict[str, Any] = {}
        if decision.name is not None:
            changes["name"] = decision.name
        if decision.attributes is not None:
            changes["attributes"] = decision.attributes
        if changes:
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == sub_id)
                .values(updated_at=now, **changes)
            )
    add_tags_in(conn, {sub_id: decision.tags})
    _write_steps(
        conn,
        sub_id,
        decision.steps,
        method=method,
        consent_text=consent_text,
        ip=ip,
        consent_at=consent_at or now,
        now=now,
    )
    return SubscribeResult(sub_id, row is None, False)


def subscriptions_in(conn: Connection, subscriber_id: int) -> dict[str, str]:
    """list slug -> subscription status of one subscriber, inside a transaction."""
    return {
        slug: status
        for slug, status in conn.execute(
            select(lists_table.c.slug, subscriptions.c.status)
            .join(lists_table, lists_table.c.id == subscriptions.c.list_id)
            .where(subscriptions.c.subscriber_id == subscriber_id)
        )
    }


def _held_subscriptions(conn: Connection, sub_id: int) -> dict[int, str]:
    """list id -> status of one subscriber's subscriptions."""
    return {
        r.list_id: r.status
        for r in conn.execute(
            select(subscriptions.c.list_id, subscriptions.c.status).where(
                subscriptions.c.subscriber_id == sub_id
            )
        )
    }


def _subscribe(
    conn: Connection,
    sub_id: int,
    ids: Mapping[str, int],
    *,
    confirmed: bool,
    method: str,
    consent_text: str,
    ip: str | None,
    consent_at: datetime,
    reopen: bool,
    now: datetime,
) -> None:
    """Create or move subscriptions of one subscriber, by the rule of ``list_steps``."""
    steps = list_steps(
        _held_subscriptions(conn, sub_id),
        list(ids.values()),
        "confirmed" if confirmed else "unconfirmed",
        reopen,
    )
    _write_steps(
        conn,
        sub_id,
        steps,
        method=method,
        consent_text=consent_text,
        ip=ip,
        consent_at=consent_at,
        now=now,
    )


def _write_steps(
    conn: Connection,
    sub_id: int,
    steps: Sequence[Step],
    *,
    method: str,
    consent_text: str,
    ip: str | None,
    consent_at: datetime,
    now: datetime,
) -> None:
    """Write the subscription rows of ``steps`` and their log rows."""
    logs = []
    for step in steps:
        confirmed = step.new == "confirmed"
        consent = {
            "consent_at": consent_at,
            "consent_method": method,
            "consent_text": consent_text,
            "consent_ip": ip,
            "confirmed_at": now if confirmed else None,
            "confirm_ip": ip if confirmed else None,
            "unsubscribed_at": None,
            "updated_at": now,
        }
        which = (subscriptions.c.subscriber_id == sub_id, subscriptions.c.list_id == step.list_id)
        if step.action == "subscribe":
            conn.execute(
                subscriptions.insert().values(
                    subscriber_id=sub_id, list_id=step.list_id, status=step.new, **consent
                )
            )
        elif step.action == "confirm":
            conn.execute(
                update(subscriptions)
                .where(*which)
                .values(status="confirmed", confirmed_at=now, confirm_ip=ip, updated_at=now)
            )
        else:  # resubscribe
            conn.execute(update(subscriptions).where(*which).values(status=step.new, **consent))
        logs.append(
            log_row(
                sub_id,
                step.list_id,
                step.action,
                step.old,
                step.new,
                method=method,
                at=now,
                ip=ip,
                detail={"consent_text": consent_text} if consent_text else None,
            )
        )
    write_log(conn, logs)


def confirm_subscription(
    engine: Engine,
    subscriber_id: int,
    lists: Sequence[str] | None = None,
    ip: str | None = None,
) -> list[str]:
    """Confirm the unconfirmed subscriptions (of ``lists``, or all); returns the slugs
    confirmed now. Nothing happens for a suppressed or unknown subscriber."""
    now = utcnow()
    with engine.begin() as conn:
        status = conn.execute(
            select(subscribers.c.status).where(subscribers.c.id == subscriber_id)
        ).scalar_one_or_none()
        if status != "active":
            return []
        wanted = list_ids(conn, lists) if lists is not None else None
        query = (
            select(lists_table.c.slug, subscriptions.c.list_id)
            .join(lists_table, lists_table.c.id == subscriptions.c.list_id)
            .where(
                subscriptions.c.subscriber_id == subscriber_id,
                subscriptions.c.status == "unconfirmed",
            )
        )
        if wanted is not None:
            query = query.where(subscriptions.c.list_id.in_(list(wanted.values())))
        rows = conn.execute(query.order_by(lists_table.c.slug)).all()
        if not rows:
            return []
        conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.subscriber_id == subscriber_id,
                subscriptions.c.list_id.in_([r.list_id for r in rows]),
                subscriptions.c.status == "unconfirmed",
            )
            .values(status="confirmed", confirmed_at=now, confirm_ip=ip, updated_at=now)
        )
        write_log(
            conn,
            [
                log_row(
                    subscriber_id,
                    r.list_id,
                    "confirm",
                    "unconfirmed",
                    "confirmed",
                    method="web",
                    at=now,
                    ip=ip,
                )
                for r in rows
            ],
        )
    return [r.slug for r in rows]


def unsubscribe(
    engine: Engine,
    subscriber_id: int,
    lists: Sequence[str] | None = None,
    *,
    method: str,
    reason: str = "unsubscribed",
    ip: str | None = None,
) -> None:
    """End subscriptions. ``lists=None`` means every list, and the address is suppressed
    (with ``reason``) so that nothing brings it back. Unknown subscribers are ignored."""
    now = utcnow()
    salt = suppression_salt(engine)
    with engine.begin() as conn:
        email = conn.execute(
            select(subscribers.c.email).where(subscribers.c.id == subscriber_id)
        ).scalar_one_or_none()
        if email is None:
            return
        if lists is None:
            suppress_in(
                conn,
                hash_with_salt(salt, email),
                subscriber_id,
                reason,
                source=method,
                method=method,
                ip=ip,
            )
            return
        ids = list_ids(conn, lists)
        _unsubscribe_from(
            conn,
            subscriber_id,
            subscriptions.c.list_id.in_(list(ids.values())),
            method=method,
            ip=ip,
            now=now,
        )


def _unsubscribe_from(
    conn: Connection,
    subscriber_id: int,
    which: ColumnElement[bool],
    *,
    method: str,
    ip: str | None,
    now: datetime,
) -> None:
    """Unsubscribe from the subscriptions matching ``which`` that are not already, and log
    each change."""
    rows = conn.execute(
        select(subscriptions.c.list_id, subscriptions.c.status).where(
            subscriptions.c.subscriber_id == subscriber_id,
            which,
            subscriptions.c.status != "unsubscribed",
        )
    ).all()
    if not rows:
        return
    conn.execute(
        update(subscriptions)
        .where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.list_id.in_([r.list_id for r in rows]),
        )
        .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
    )
    write_log(
        conn,
        [
            log_row(
                subscriber_id,
                r.list_id,
                "unsubscribe",
                r.status,
                "unsubscribed",
                method=method,
                at=now,
                ip=ip,
            )
            for r in rows
        ],
    )


def get_subscriber(
    engine: Engine,
    subscriber_id: int | None = None,
    email: str | None = None,
    *,
    public_id: str | None = None,
) -> SubscriberInfo | None:
    """One subscriber by id, by public id or by address (any case), or None."""
    if subscriber_id is None and email is None and public_id is None:
        raise ValueError("give subscriber_id, public_id or email")
    with engine.connect() as conn:
        query = select(subscribers)
        if subscriber_id is not None:
            query = query.where(subscribers.c.id == subscriber_id)
        elif public_id is not None:
            query = query.where(subscribers.c.public_id == public_id)
        else:
            assert email is not None
            query = query.where(subscribers.c.email == normalise_email(email))
        row = conn.execute(query).first()
        if row is None:
            return None
        subs = conn.execute(
            select(lists_table.c.slug, subscriptions.c.status)
            .join(lists_table, lists_table.c.id == subscriptions.c.list_id)
            .where(subscriptions.c.subscriber_id == row.id)
            .order_by(lists_table.c.slug)
        ).all()
        tags = tags_in(conn, [row.id]).get(row.id, [])
    return SubscriberInfo(
        id=row.id,
        email=row.email,
        name=row.name,
        status=row.status,
        subscriptions={slug: status for slug, status in subs},
        attributes=dict(row.attributes or {}),
        created_at=row.created_at,
        tags=tags,
        public_id=row.public_id,
    )


def set_name(engine: Engine, subscriber_id: int, name: str) -> None:
    name = name.strip()[:200]
    with engine.begin() as conn:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id, subscribers.c.name != name)
            .values(name=name, updated_at=utcnow())
        )


def set_lists(
    engine: Engine,
    subscriber_id: int,
    lists: Sequence[str],
    *,
    method: str,
    ip: str | None = None,
) -> None:
    """Subscribe to exactly ``lists``, confirmed (the person chose them on the preferences
    page); the other subscriptions end. Choosing lists lifts an 'unsubscribed' suppression
    (the person asked again); an empty choice ends every subscription but does not suppress."""
    now = utcnow()
    salt = suppression_salt(engine)
    with engine.begin() as conn:
        row = conn.execute(
            select(subscribers.c.email, subscribers.c.status).where(
                subscribers.c.id == subscriber_id
            )
        ).first()
        if row is None:
            return
        ids = list_ids(conn, list(dict.fromkeys(lists)))
        if ids and row.status != "active":
            digest = hash_with_salt(salt, row.email)
            reason = suppression_reasons(conn, [digest]).get(digest)
            if reason is None or reason in LIFTABLE:
                _lift(conn, digest, subscriber_id, row.status, method=method, ip=ip, now=now)
        _subscribe(
            conn,
            subscriber_id,
            ids,
            confirmed=True,
            method=method,
            consent_text="preferences",
            ip=ip,
            consent_at=now,
            reopen=True,
            now=now,
        )
        _unsubscribe_from(
            conn,
            subscriber_id,
            subscriptions.c.list_id.not_in(list(ids.values())),
            method=method,
            ip=ip,
            now=now,
        )
