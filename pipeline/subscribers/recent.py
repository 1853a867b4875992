"""The latest signups (subscriptions confirmed) and unsubscribes, for the studio's
dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from pipeline.store.tables import lists, subscribers, subscriptions


@dataclass(frozen=True)
class Change:
    public_id: str
    email: str
    name: str
    list_slug: str
    at: datetime


def _latest(engine: Engine, column: str, limit: int) -> list[Change]:
    when = subscriptions.c[column]
    query = (
        select(subscribers.c.public_id, subscribers.c.email, subscribers.c.name, lists.c.slug, when)
        .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
        .join(lists, lists.c.id == subscriptions.c.list_id)
        .where(when.is_not(None))
        .order_by(when.desc(), subscriptions.c.subscriber_id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [Change(*row) for row in conn.execute(query)]


def recent_signups(engine: Engine, *, limit: int = 8) -> list[Change]:
    """The last ``limit`` subscriptions confirmed, newest first."""
    return _latest(engine, "confirmed_at", limit)


def recent_unsubscribes(engine: Engine, *, limit: int = 8) -> list[Change]:
    """The last ``limit`` unsubscribes from a list, newest first."""
    return _latest(engine, "unsubscribed_at", limit)
