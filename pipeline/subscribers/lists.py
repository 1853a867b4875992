"""Lists: newsletter.toml is the source of truth; the database holds a copy plus any list
made with ``newsletter lists create`` (which should then be added to newsletter.toml)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select, update

from pipeline.config import ListSection, Settings
from pipeline.errors import SubscriberError
from pipeline.store.tables import lists, subscribers, subscriptions, utcnow

SUBSCRIPTION_STATUSES = ("confirmed", "unconfirmed", "unsubscribed")


@dataclass(frozen=True)
class ListSummary:
    slug: str
    name: str
    description: str
    double_opt_in: bool
    in_config: bool
    counts: dict[str, int] = field(default_factory=dict)  # subscription status -> number
    suppressed: int = 0  # confirmed or unconfirmed, but the subscriber is suppressed

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def sync_lists(engine: Engine, settings: Settings) -> dict[str, str]:
    """Make the lists table hold the lists in settings (idempotent). Returns slug -> what
    happened ('created' or 'updated'); unchanged lists are left out. Lists that are only in
    the database stay (their subscriptions are kept)."""
    changes: dict[str, str] = {}
    # Read first: most commands find nothing to change and need no write lock.
    with engine.connect() as conn:
        rows = {r.slug: r for r in conn.execute(select(lists)).all()}
    if all(
        item.slug in rows
        and (rows[item.slug].name, rows[item.slug].description, rows[item.slug].double_opt_in)
        == (item.name, item.description, item.double_opt_in)
        for item in settings.lists
    ):
        return changes
    with engine.begin() as conn:
        rows = {r.slug: r for r in conn.execute(select(lists)).all()}
        for item in settings.lists:
            row = rows.get(item.slug)
            values = {
                "name": item.name,
                "description": item.description,
                "double_opt_in": item.double_opt_in,
            }
            if row is None:
                conn.execute(lists.insert().values(slug=item.slug, created_at=utcnow(), **values))
                changes[item.slug] = "created"
            elif any(getattr(row, k) != v for k, v in values.items()):
                conn.execute(update(lists).where(lists.c.id == row.id).values(**values))
                changes[item.slug] = "updated"
    return changes


def create_list(
    engine: Engine, slug: str, name: str, description: str = "", double_opt_in: bool = True
) -> None:
    """Add a list to the database; refuses a slug that exists or is not a valid slug."""
    try:
        ListSection(slug=slug, name=name, description=description, double_opt_in=double_opt_in)
    except ValueError:
        raise SubscriberError(
            f"{slug!r} is not a valid list slug",
            fix="use letters, digits, '-' and '_' only, e.g. 'beauty-tips'",
        ) from None
    with engine.begin() as conn:
        exists = conn.execute(select(lists.c.id).where(lists.c.slug == slug)).first()
        if exists:
            raise SubscriberError(
                f"the list {slug!r} already exists", fix="see 'newsletter lists show " + slug + "'"
            )
        conn.execute(
            lists.insert().values(
                slug=slug,
                name=name,
                description=description,
                double_opt_in=double_opt_in,
                created_at=utcnow(),
            )
        )


def list_summaries(engine: Engine, settings: Settings | None = None) -> list[ListSummary]:
    """Every list with its subscription counts by status, ordered by slug."""
    configured = set(settings.list_slugs) if settings is not None else set()
    with engine.connect() as conn:
        rows = conn.execute(select(lists).order_by(lists.c.slug)).all()
        counts = conn.execute(
            select(subscriptions.c.list_id, subscriptions.c.status, func.count()).group_by(
                subscriptions.c.list_id, subscriptions.c.status
            )
        ).all()
        suppressed = conn.execute(
            select(subscriptions.c.list_id, func.count())
            .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
            .where(subscribers.c.status != "active", subscriptions.c.status != "unsubscribed")
            .group_by(subscriptions.c.list_id)
        ).all()
    by_list: dict[int, dict[str, int]] = {}
    for list_id, status, n in counts:
        by_list.setdefault(list_id, {})[status] = n
    held: dict[int, int] = {int(k): int(v) for k, v in suppressed}
    return [
        ListSummary(
            slug=r.slug,
            name=r.name,
            description=r.description,
            double_opt_in=bool(r.double_opt_in),
            in_config=r.slug in configured,
            counts={s: by_list.get(r.id, {}).get(s, 0) for s in SUBSCRIPTION_STATUSES},
            suppressed=int(held.get(r.id, 0)),
        )
        for r in rows
    ]


def list_summary(engine: Engine, slug: str, settings: Settings | None = None) -> ListSummary:
    for item in list_summaries(engine, settings):
        if item.slug == slug:
            return item
    with engine.connect() as conn:
        known = sorted(conn.execute(select(lists.c.slug)).scalars())
    raise SubscriberError(
        f"unknown list {slug!r}", fix="known lists: " + (", ".join(known) or "none")
    )


def list_names(settings: Settings, slugs: Sequence[str]) -> list[str]:
    """The lists' names for people (the slug where a list is not in newsletter.toml)."""
    names = []
    for slug in slugs:
        found = settings.list_named(slug)
        names.append(found.name if found else slug)
    return names
