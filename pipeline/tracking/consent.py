"""A subscriber's choice about tracking (the preferences page): when it is off, their
emails carry direct links and no pixel, from the next send on."""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from pipeline.store.tables import subscribers, utcnow


def tracking_allowed(engine: Engine, subscriber_id: int) -> bool:
    """True unless the subscriber turned tracking off (or does not exist)."""
    with engine.connect() as conn:
        found = conn.execute(
            select(subscribers.c.tracking).where(subscribers.c.id == subscriber_id)
        ).scalar()
    return bool(found) if found is not None else False


def set_tracking(engine: Engine, subscriber_id: int, allowed: bool) -> None:
    """Record the subscriber's choice."""
    with engine.begin() as conn:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id, subscribers.c.tracking != allowed)
            .values(tracking=allowed, updated_at=utcnow())
        )
