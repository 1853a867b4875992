"""What happened after sending: counts, rates, links, timelines and list growth, read from
the delivery ledger and ``delivery_events`` (``newsletter issue stats SLUG``,
``newsletter stats``; the studio will call the same functions).

Headline figures are *human*: unique opens are the deliveries with a human open or a
human click (a click implies the message was opened, even with images blocked); unique
clicks are the deliveries with a human click. Machine opens and clicks (see
``pipeline.tracking.classify``) are counted apart, as events. Bounces count every bounce
event (hard bounces and "blocked"). Rates are shares of the messages delivered; when no
``delivered`` events exist (Maildir or SMTP, which report none) they are shares of the
messages sent. The click-to-open rate is unique human clicks over unique human opens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, distinct, func, or_, select

from pipeline.store.tables import (
    deliveries,
    delivery_events,
    edition_links,
    editions,
    subscription_log,
    subscriptions,
)

ev = delivery_events.c
HUMAN = func.coalesce(ev.verdict, "human") == "human"
ENGAGEMENT = ("open", "click")
TIMELINE_HOURS = 72


@dataclass(frozen=True)
class LinkStats:
    """One tracked link of an edition."""

    index: int
    url: str
    text: str
    kind: str
    unique_clicks: int  # distinct deliveries with a human click
    clicks: int  # human clicks
    machine_clicks: int


@dataclass(frozen=True)
class EditionStats:
    slug: str
    subject: str
    status: str
    sent: int
    delivered: int
    opens: int  # unique human opens (a human click counts as an open)
    clicks: int  # unique human clicks
    bounces: int
    complaints: int
    unsubscribes: int
    total_opens: int  # human open events
    total_clicks: int  # human click events
    machine_opens: int  # machine open events
    machine_clicks: int  # machine click events
    base: str  # "delivered" or "sent": what the rates are shares of
    started_at: datetime | None = None
    links: list[LinkStats] = field(default_factory=list)

    def rate(self, count: int) -> float:
        denominator = self.delivered if self.base == "delivered" else self.sent
        return round(count / denominator, 4) if denominator else 0.0

    @property
    def rates(self) -> dict[str, float]:
        return {
            "delivered": round(self.delivered / self.sent, 4) if self.sent else 0.0,
            "opens": self.rate(self.opens),
            "clicks": self.rate(self.clicks),
            "click_to_open": round(self.clicks / self.opens, 4) if self.opens else 0.0,
            "bounces": round(self.bounces / self.sent, 4) if self.sent else 0.0,
            "complaints": self.rate(self.complaints),
            "unsubscribes": self.rate(self.unsubscribes),
        }

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["started_at"] = self.started_at.isoformat() if self.started_at else None
        return {**out, "rates": self.rates}


def _unique(event_filter: Any, edition_id: int) -> Any:
    """Distinct deliveries (or, for events without one, distinct rows) matching a filter."""
    key = func.coalesce(ev.delivery_id, -ev.id)
    return (
        select(func.count(distinct(key)))
        .where(ev.edition_id == edition_id, event_filter)
        .scalar_subquery()
    )


def _total(event_filter: Any, edition_id: int) -> Any:
    return select(func.count()).where(ev.edition_id == edition_id, event_filter).scalar_subquery()


def edition_stats(engine: Engine, edition_id: int, *, links: bool = True) -> EditionStats:
    """Counts and rates for one edition (and its per-link table when ``links``)."""
    machine = ev.verdict == "machine"
    query = select(
        editions.c.slug,
        editions.c.subject,
        editions.c.status,
        editions.c.started_at,
        select(func.count())
        .where(deliveries.c.edition_id == edition_id, deliveries.c.status == "sent")
        .scalar_subquery()
        .label("sent"),
        _unique(ev.event == "delivered", edition_id).label("delivered"),
        _unique(and_(ev.event.in_(ENGAGEMENT), HUMAN), edition_id).label("opens"),
        _unique(and_(ev.event == "click", HUMAN), edition_id).label("clicks"),
        _unique(ev.event == "bounce", edition_id).label("bounces"),
        _unique(ev.event == "spamreport", edition_id).label("complaints"),
        _unique(ev.event.in_(["unsubscribe", "group_unsubscribe"]), edition_id).label(
            "unsubscribes"
        ),
        _total(and_(ev.event == "open", HUMAN), edition_id).label("total_opens"),
        _total(and_(ev.event == "click", HUMAN), edition_id).label("total_clicks"),
        _total(and_(ev.event == "open", machine), edition_id).label("machine_opens"),
        _total(and_(ev.event == "click", machine), edition_id).label("machine_clicks"),
    ).where(editions.c.id == edition_id)
    with engine.connect() as conn:
        row = conn.execute(query).one()
    return EditionStats(
        slug=row.slug,
        subject=row.subject,
        status=row.status,
        sent=int(row.sent),
        delivered=int(row.delivered),
        opens=int(row.opens),
        clicks=int(row.clicks),
        bounces=int(row.bounces),
        complaints=int(row.complaints),
        unsubscribes=int(row.unsubscribes),
        total_opens=int(row.total_opens),
        total_clicks=int(row.total_clicks),
        machine_opens=int(row.machine_opens),
        machine_clicks=int(row.machine_clicks),
        base="delivered" if row.delivered else "sent",
        started_at=row.started_at,
        links=link_stats(engine, edition_id) if links else [],
    )


def link_stats(engine: Engine, edition_id: int) -> list[LinkStats]:
    """Every tracked link of the edition (the honeypot last), with its clicks."""
    human = and_(ev.event == "click", HUMAN)
    counts = (
        select(
            ev.link_index,
            func.count(distinct(case((human, ev.delivery_id)))).label("unique_clicks"),
            func.sum(case((human, 1), else_=0)).label("clicks"),
            func.sum(case((ev.verdict == "machine", 1), else_=0)).label("machine_clicks"),
        )
        .where(ev.edition_id == edition_id, ev.event == "click", ev.link_index.is_not(None))
        .group_by(ev.link_index)
        .subquery()
    )
    query = (
        select(
            edition_links.c.link_index,
            edition_links.c.url,
            edition_links.c.text,
            edition_links.c.kind,
            func.coalesce(counts.c.unique_clicks, 0).label("unique_clicks"),
            func.coalesce(counts.c.clicks, 0).label("clicks"),
            func.coalesce(counts.c.machine_clicks, 0).label("machine_clicks"),
        )
        .select_from(
            edition_links.outerjoin(counts, counts.c.link_index == edition_links.c.link_index)
        )
        .where(edition_links.c.edition_id == edition_id)
        .order_by(edition_links.c.kind == "honeypot", edition_links.c.link_index)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        LinkStats(
            int(r.link_index),
            r.url,
            r.text,
            r.kind,
            int(r.unique_clicks),
            int(r.clicks),
            int(r.machine_clicks),
        )
        for r in rows
    ]


# ---- over time --------------------------------------------------------------------------------
@dataclass(frozen=True)
class HourPoint:
    hour: int  # hours since the edition started sending
    human_opens: int
    human_clicks: int
    machine_opens: int
    machine_clicks: int


def edition_timeline(
    engine: Engine, edition_id: int, *, hours: int = TIMELINE_HOURS
) -> list[HourPoint]:
    """Opens and clicks per hour over the first ``hours`` after the edition started."""
    with engine.connect() as conn:
        started = conn.execute(
            select(editions.c.started_at).where(editions.c.id == edition_id)
        ).scalar()
        if started is None:
            started = conn.execute(
                select(func.min(deliveries.c.sent_at)).where(deliveries.c.edition_id == edition_id)
            ).scalar()
        rows = (
            conn.execute(
                select(ev.event, ev.verdict, ev.occurred_at).where(
                    ev.edition_id == edition_id, ev.event.in_(ENGAGEMENT)
                )
            ).all()
            if started is not None
            else []
        )
    counts: Counter[tuple[int, str, str]] = Counter()
    for row in rows:
        assert started is not None
        hour = int((row.occurred_at - _aware(started)).total_seconds() // 3600)
        if 0 <= hour < hours:
            counts[(hour, row.event, row.verdict or "human")] += 1
    return [
        HourPoint(
            h,
            counts[(h, "open", "human")],
            counts[(h, "click", "human")],
            counts[(h, "open", "machine")],
            counts[(h, "click", "machine")],
        )
        for h in range(hours)
    ]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# ---- across issues ----------------------------------------------------------------------------
def recent_editions(engine: Engine, *, limit: int = 10) -> list[EditionStats]:
    """The figures of the ``limit`` most recently started editions, newest first."""
    with engine.connect() as conn:
        ids = conn.execute(
            select(editions.c.id)
            .where(editions.c.started_at.is_not(None))
            .order_by(editions.c.started_at.desc(), editions.c.id.desc())
            .limit(limit)
        ).scalars()
        chosen = list(ids)
    return [edition_stats(engine, i, links=False) for i in chosen]


@dataclass(frozen=True)
class WeekGrowth:
    week: str  # the Monday that starts the week, YYYY-MM-DD
    confirmed: int  # people with a subscription confirmed that week
    unsubscribed: int
    bounced: int  # suppressed for a bounce or a complaint that week
    net: int


def list_growth(engine: Engine, *, weeks: int = 12, now: datetime) -> list[WeekGrowth]:
    """Per week (Monday to Sunday, UTC) over the last ``weeks``: people newly confirmed,
    unsubscribed, and suppressed for bounces or complaints, and the net change."""
    monday = (now.astimezone(UTC) - timedelta(days=now.astimezone(UTC).weekday())).date()
    first = datetime.combine(monday - timedelta(weeks=weeks - 1), datetime.min.time(), UTC)
    sub = subscriptions.c
    log = subscription_log.c
    with engine.connect() as conn:
        confirmed = conn.execute(
            select(sub.subscriber_id, sub.confirmed_at).where(sub.confirmed_at >= first)
        ).all()
        unsubscribed = conn.execute(
            select(sub.subscriber_id, sub.unsubscribed_at).where(sub.unsubscribed_at >= first)
        ).all()
        bounced = conn.execute(
            select(log.subscriber_id, log.at).where(
                log.at >= first,
                log.action == "suppress",
                or_(log.new_status == "bounced", log.new_status == "complained"),
            )
        ).all()

    def per_week(rows: Sequence[Any]) -> Counter[int]:
        seen: set[tuple[int, Any]] = set()
        out: Counter[int] = Counter()
        for who, at in rows:
            week = (_aware(at) - first).days // 7
            if (week, who) not in seen and 0 <= week < weeks:
                seen.add((week, who))
                out[week] += 1
        return out

    c, u, b = per_week(confirmed), per_week(unsubscribed), per_week(bounced)
    return [
        WeekGrowth(
            (first + timedelta(weeks=w)).date().isoformat(),
            c[w],
            u[w],
            b[w],
            c[w] - u[w] - b[w],
        )
        for w in range(weeks)
    ]
