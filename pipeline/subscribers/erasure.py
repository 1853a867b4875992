"""Erasure (GDPR article 17): delete a person's data, keep only a salted hash of the address.

In one transaction: the subscriber row, their subscriptions and their change log are
deleted; delivery ledger rows keep their counts for the edition reports but lose the
address (and their webhook event details are emptied); the suppression list gets
``sha256(salt:address)`` with reason 'erased', which no import, ``add`` or web signup
lifts. So the address is never imported or sent to again, and nothing readable is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, or_, select, update

from pipeline.store.tables import (
    deliveries,
    delivery_events,
    subscribers,
    subscription_log,
    subscriptions,
    suppressions,
    utcnow,
)
from pipeline.subscribers.history import insert_ignoring_conflicts
from pipeline.subscribers.normalise import normalise_email
from pipeline.subscribers.suppression import hash_with_salt, suppression_salt

ERASED_ADDRESS = "erased"


@dataclass(frozen=True)
class ErasureReport:
    email: str
    found: bool  # there was a subscriber row
    subscriptions: int
    log_entries: int
    deliveries: int


def erase(engine: Engine, email: str) -> ErasureReport:
    """Erase everything held about ``email`` and suppress it for good (idempotent)."""
    normalised = normalise_email(email)
    digest = hash_with_salt(suppression_salt(engine), normalised)
    now = utcnow()
    with engine.begin() as conn:
        sub_id = conn.execute(
            select(subscribers.c.id).where(subscribers.c.email == normalised)
        ).scalar_one_or_none()
        n_subs = n_log = 0
        mine = deliveries.c.email == normalised
        if sub_id is not None:
            mine = or_(mine, deliveries.c.subscriber_id == sub_id)
            n_log = conn.execute(
                delete(subscription_log).where(subscription_log.c.subscriber_id == sub_id)
            ).rowcount
            n_subs = conn.execute(
                delete(subscriptions).where(subscriptions.c.subscriber_id == sub_id)
            ).rowcount
        delivery_ids = list(conn.execute(select(deliveries.c.id).where(mine)).scalars())
        if delivery_ids:
            conn.execute(
                update(delivery_events)
                .where(delivery_events.c.delivery_id.in_(delivery_ids))
                .values(detail={})
            )
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(delivery_ids))
                .values(email=ERASED_ADDRESS, subscriber_id=None, updated_at=now)
            )
        if sub_id is not None:
            conn.execute(delete(subscribers).where(subscribers.c.id == sub_id))
        insert_ignoring_conflicts(
            conn,
            suppressions,
            [{"address_hash": digest, "reason": "erased", "source": "", "created_at": now}],
        )
        conn.execute(
            update(suppressions)
            .where(suppressions.c.address_hash == digest, suppressions.c.reason != "erased")
            .values(reason="erased", source="")
        )
    return ErasureReport(normalised, sub_id is not None, n_subs, n_log, len(delivery_ids))


def count_erased(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(suppressions.c.reason == "erased")).scalar_one()
        )
