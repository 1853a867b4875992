"""Read-only listings for the CLI: subscribers page by page, counts by status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, exists, func, select

from pipeline.store.tables import lists, subscribers, subscriptions
from pipeline.subscribers.audience import audience_select
from pipeline.subscribers.history import list_ids

SUBSCRIBER_STATUSES = ("active", "unsubscribed", "bounced", "complained")


@dataclass(frozen=True)
class SubscriberRow:
    id: int
    email: str
    name: str
    status: str
    created_at: datetime
    subscriptions: dict[str, str]  # list slug -> subscription status
    public_id: str = ""  # random; what links (and the studio's pages) carry


def list_subscribers(
    engine: Engine,
    list_slug: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    after_id: int = 0,
) -> list[SubscriberRow]:
    """Subscribers ordered by id (keyset: pass the last id as ``after_id``), optionally only
    those on ``list_slug`` (any subscription status) and with subscriber ``status``."""
    with engine.connect() as conn:
        query = select(subscribers).where(subscribers.c.id > after_id).order_by(subscribers.c.id)
        if list_slug is not None:
            list_id = list_ids(conn, [list_slug])[list_slug]
            query = query.where(
                exists().where(
                    subscriptions.c.subscriber_id == subscribers.c.id,
                    subscriptions.c.list_id == list_id,
                )
            )
        if status is not None:
            query = query.where(subscribers.c.status == status)
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execute(query).all()
        subs: dict[int, dict[str, str]] = {r.id: {} for r in rows}
        if rows:
            for sid, slug, sub_status in conn.execute(
                select(subscriptions.c.subscriber_id, lists.c.slug, subscriptions.c.status)
                .join(lists, lists.c.id == subscriptions.c.list_id)
                .where(subscriptions.c.subscriber_id.in_(list(subs)))
                .order_by(lists.c.slug)
            ):
                subs[sid][slug] = sub_status
    return [
        SubscriberRow(r.id, r.email, r.name, r.status, r.created_at, subs[r.id], r.public_id)
        for r in rows
    ]


@dataclass(frozen=True)
class Counts:
    by_status: dict[str, int]  # subscriber status -> number (on the list, when one is given)
    audience: int  # would receive an issue sent to these lists (confirmed, not suppressed)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def count_subscribers(engine: Engine, list_slugs: Sequence[str] | None = None) -> Counts:
    """Subscribers by status (those on any of ``list_slugs``, or everyone) and the size of
    the audience an issue to those lists would have."""
    with engine.connect() as conn:
        slugs = list(list_slugs) if list_slugs else sorted(list_ids(conn))
        ids = list(list_ids(conn, slugs).values())
        query = select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
        if list_slugs:
            query = query.where(
                exists().where(
                    subscriptions.c.subscriber_id == subscribers.c.id,
                    subscriptions.c.list_id.in_(ids),
                )
            )
        found: dict[str, int] = {str(k): int(v) for k, v in conn.execute(query).all()}
        audience = conn.execute(
            select(func.count()).select_from(audience_select(slugs).order_by(None).subquery())
        ).scalar_one()
    return Counts({s: int(found.get(s, 0)) for s in SUBSCRIBER_STATUSES}, int(audience))


def search_subscribers(engine: Engine, text: str, *, limit: int = 50) -> list[SubscriberRow]:
    """Subscribers whose address or name contains ``text`` (any case), by address; the
    first ``limit``. An empty ``text`` gives the newest."""
    words = text.strip().lower()
    query = select(subscribers)
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            func.lower(subscribers.c.email).like(pattern, escape="\\")
            | func.lower(subscribers.c.name).like(pattern, escape="\\")
        ).order_by(subscribers.c.email)
    else:
        query = query.order_by(subscribers.c.id.desc())
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit)).all()
        subs: dict[int, dict[str, str]] = {r.id: {} for r in rows}
        if rows:
            for sid, slug, sub_status in conn.execute(
                select(subscriptions.c.subscriber_id, lists.c.slug, subscriptions.c.status)
                .join(lists, lists.c.id == subscriptions.c.list_id)
                .where(subscriptions.c.subscriber_id.in_(list(subs)))
                .order_by(lists.c.slug)
            ):
                subs[sid][slug] = sub_status
    return [
        SubscriberRow(r.id, r.email, r.name, r.status, r.created_at, subs[r.id], r.public_id)
        for r in rows
    ]
