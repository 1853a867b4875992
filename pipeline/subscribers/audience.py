"""Who receives an edition: confirmed on any of its lists, active (not suppressed), once.

Suppression is kept in two places that never disagree: a subscriber row whose ``status`` is
not ``active`` (unsubscribed, bounced, complained), and the ``suppressions`` table of salted
address hashes, which also covers people who are not (or no longer) subscribers. Whatever
brings an address in checks the hash first, so the audience query needs only the status.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Engine, Select, and_, exists, func, select

from pipeline.store.tables import lists, subscribers, subscriptions

if TYPE_CHECKING:
    from pipeline.config import Settings


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)  # custom fields
    public_id: str = ""  # what links in emails carry


def audience_select(
    list_slugs: Sequence[str], where: ColumnElement[bool] | None = None
) -> Select[int, str, str, Any]:
    """SELECT subscriber id, email, name, attributes of the eligible audience, ordered by
    id; ``where``
    narrows it (a segment, from ``pipeline.subscribers.segments.segment_where``).

    Usable on its own or inside ``INSERT ... SELECT`` (the delivery ledger snapshot).
    """
    # The list ids are an uncorrelated subquery (evaluated once), so each subscriber costs
    # one primary-key probe into subscriptions per list.
    list_ids = select(lists.c.id).where(lists.c.slug.in_(list(list_slugs))).scalar_subquery()
    on_list = exists().where(
        and_(
            subscriptions.c.subscriber_id == subscribers.c.id,
            subscriptions.c.list_id.in_(list_ids),
            subscriptions.c.status == "confirmed",
        )
    )
    query = select(
        subscribers.c.id, subscribers.c.email, subscribers.c.name, subscribers.c.attributes
    ).where(subscribers.c.status == "active", on_list)
    if where is not None:
        query = query.where(where)
    return query.order_by(subscribers.c.id)


def segment_filter(
    engine: Engine, condition: str | None, now: datetime
) -> ColumnElement[bool] | None:
    """The WHERE clause of a segment condition on this database (None: no segment)."""
    if not condition:
        return None
    from pipeline.subscribers.segments import segment_where

    return segment_where(condition, now=now, dialect=engine.dialect.name)


def stream_audience(
    engine: Engine,
    list_slugs: Sequence[str],
    batch_size: int = 5000,
    where: ColumnElement[bool] | None = None,
) -> Iterator[list[Recipient]]:
    """Yield the audience in batches, keyset-paginated by subscriber id (flat memory)."""
    last_id = 0
    base = audience_select(list_slugs, where)
    while True:
        query = (
            base.add_columns(subscribers.c.public_id)
            .where(subscribers.c.id > last_id)
            .limit(batch_size)
        )
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        yield [Recipient(r[0], r[1], r[2], dict(r[3] or {}), r[4]) for r in rows]
        last_id = rows[-1][0]
        if len(rows) < batch_size:
            return


def count_segment(
    engine: Engine, condition: str, *, now: datetime, lists: list[str] | None = None
) -> int:
    """How many subscribers match (active only; within ``lists`` when given: confirmed on
    any of them, the audience an issue would get)."""
    from pipeline.subscribers.segments import segment_where

    where = segment_where(condition, now=now, dialect=engine.dialect.name)
    if lists is not None:
        query = select(func.count()).select_from(audience_select(lists).where(where).subquery())
    else:
        query = select(func.count()).where(subscribers.c.status == "active", where)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def segment_counts(
    settings: Settings, engine: Engine, *, now: datetime
) -> list[tuple[str, int, str]]:
    """Every segment of newsletter.toml: (name, active subscribers in it, condition)."""
    from pipeline.subscribers.segments import check_segments

    check_segments(settings)
    return [
        (s.name, count_segment(engine, s.condition, now=now), s.condition)
        for s in settings.segments
    ]
