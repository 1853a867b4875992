"""Suppression: addresses that are never sent to again, kept as salted hashes.

A suppressed existing subscriber has ``subscribers.status`` != 'active' AND a row in
``suppressions``. Addresses that are not subscribers (erased people, unsubscribes imported
from another tool) exist only as ``sha256(salt + ":" + normalised address)``. The salt is
made once per database, on first use, and kept in ``app_meta`` (key ``suppression_salt``);
two processes racing to make it both end up with the one that was stored first.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, select, update

from pipeline.errors import SubscriberError
from pipeline.store.tables import app_meta, subscribers, subscriptions, suppressions, utcnow
from pipeline.subscribers.history import insert_ignoring_conflicts, log_row, write_log
from pipeline.subscribers.normalise import normalise_email

SALT_KEY = "suppression_salt"
REASONS = ("unsubscribed", "bounced", "complained", "erased", "manual")
# The subscriber status that goes with each reason (erased people have no row left).
STATUS_FOR = {
    "unsubscribed": "unsubscribed",
    "manual": "unsubscribed",
    "bounced": "bounced",
    "complained": "complained",
    "erased": "unsubscribed",
}
# Reasons a person lifts by asking again (double opt-in, preferences page); the others stay.
LIFTABLE = frozenset({"unsubscribed", "bounced"})

_salts: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


def suppression_salt(engine: Engine) -> str:
    """This database's salt, made on first use (race-safe)."""
    cached = _salts.get(engine)
    if cached is not None:
        return cached
    with engine.begin() as conn:
        insert_ignoring_conflicts(
            conn, app_meta, [{"key": SALT_KEY, "value": secrets.token_hex(32)}]
        )
        salt = conn.execute(select(app_meta.c.value).where(app_meta.c.key == SALT_KEY)).scalar_one()
    _salts[engine] = salt
    return str(salt)


def hash_with_salt(salt: str, normalised: str) -> str:
    return hashlib.sha256(f"{salt}:{normalised}".encode()).hexdigest()


def salted_hasher(salt: str) -> Callable[[str], str]:
    """``hash_with_salt`` with ``salt`` bound, for many addresses (an import): the salt is
    hashed once and each address continues a copy of that state."""
    start = hashlib.sha256(f"{salt}:".encode())

    def digest(normalised: str) -> str:
        state = start.copy()
        state.update(normalised.encode())
        return state.hexdigest()

    return digest


def address_hash(engine: Engine, email: str) -> str:
    """The salted hash that stands for ``email`` in the suppressions table."""
    return hash_with_salt(suppression_salt(engine), normalise_email(email))


def suppression_reasons(conn: Connection, hashes: Iterable[str]) -> dict[str, str]:
    """hash -> reason for those of ``hashes`` that are suppressed (one query)."""
    wanted = list(hashes)
    if not wanted:
        return {}
    rows = conn.execute(
        select(suppressions.c.address_hash, suppressions.c.reason).where(
            suppressions.c.address_hash.in_(wanted)
        )
    ).all()
    return {h: r for h, r in rows}


def suppression_reason(engine: Engine, email: str) -> str | None:
    digest = address_hash(engine, email)
    with engine.connect() as conn:
        return suppression_reasons(conn, [digest]).get(digest)


def is_suppressed(engine: Engine, email: str) -> bool:
    """True when ``email`` must never be sent to (unsubscribed everywhere, bounced, ...)."""
    return suppression_reason(engine, email) is not None


def suppress_in(
    conn: Connection,
    digest: str,
    subscriber_id: int | None,
    reason: str,
    *,
    source: str = "",
    method: str = "",
    ip: str | None = None,
) -> None:
    """Suppress inside an open transaction: the hash row, the subscriber's status, the log."""
    now = utcnow()
    existing = suppression_reasons(conn, [digest]).get(digest)
    if existing is None:
        insert_ignoring_conflicts(
            conn,
            suppressions,
            [{"address_hash": digest, "reason": reason, "source": source[:200], "created_at": now}],
        )
    elif existing != reason and reason in ("erased", "complained", "bounced"):
        conn.execute(
            update(suppressions)
            .where(suppressions.c.address_hash == digest)
            .values(reason=reason, source=source[:200])
        )
    if subscriber_id is None:
        return
    status = STATUS_FOR[reason]
    old = conn.execute(
        select(subscribers.c.status).where(subscribers.c.id == subscriber_id)
    ).scalar_one_or_none()
    if old is None:
        return
    logs = []
    if old != status:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id)
            .values(status=status, updated_at=now)
        )
        logs.append(
            log_row(
                subscriber_id,
                None,
                "suppress",
                old,
                status,
                method=method,
                at=now,
                ip=ip,
                detail={"reason": reason, "source": source},
            )
        )
    if reason in ("unsubscribed", "manual"):
        open_subs = conn.execute(
            select(subscriptions.c.list_id, subscriptions.c.status).where(
                subscriptions.c.subscriber_id == subscriber_id,
                subscriptions.c.status != "unsubscribed",
            )
        ).all()
        for list_id, sub_status in open_subs:
            logs.append(
                log_row(
                    subscriber_id,
                    list_id,
                    "unsubscribe",
                    sub_status,
                    "unsubscribed",
                    method=method,
                    at=now,
                    ip=ip,
                )
            )
        if open_subs:
            conn.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.subscriber_id == subscriber_id,
                    subscriptions.c.status != "unsubscribed",
                )
                .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
            )
    write_log(conn, logs)


def suppress(engine: Engine, email: str, reason: str, source: str = "") -> None:
    """Never send to ``email`` again. For a subscriber, set the status too: bounced and
    complained keep their subscriptions (for the record); unsubscribed and manual end them."""
    if reason not in REASONS:
        raise SubscriberError(
            f"unknown suppression reason {reason!r}", fix="use one of " + ", ".join(REASONS)
        )
    normalised = normalise_email(email)
    digest = hash_with_salt(suppression_salt(engine), normalised)
    with engine.begin() as conn:
        sub_id = conn.execute(
            select(subscribers.c.id).where(subscribers.c.email == normalised)
        ).scalar_one_or_none()
        suppress_in(conn, digest, sub_id, reason, source=source, method=(source or "api")[:20])
