"""What happened to an edition after sending: counts and rates from the delivery ledger
and the recorded delivery events (``newsletter issue stats SLUG``).

Counts are of *distinct deliveries* (unique opens, unique clicks), plus the raw totals of
opens and clicks. Bounces count every bounce event (hard bounces and "blocked"). Rates are
shares of the messages delivered; when no ``delivered`` events exist (Maildir or SMTP,
which report none) they are shares of the messages sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, distinct, func, select

from pipeline.store.tables import deliveries, delivery_events, editions


@dataclass(frozen=True)
class EditionStats:
    slug: str
    subject: str
    status: str
    sent: int
    delivered: int
    opens: int
    clicks: int
    bounces: int
    complaints: int
    unsubscribes: int
    total_opens: int
    total_clicks: int
    base: str  # "delivered" or "sent": what the rates are shares of

    def rate(self, count: int) -> float:
        denominator = self.delivered if self.base == "delivered" else self.sent
        return round(count / denominator, 4) if denominator else 0.0

    @property
    def rates(self) -> dict[str, float]:
        return {
            "delivered": round(self.delivered / self.sent, 4) if self.sent else 0.0,
            "opens": self.rate(self.opens),
            "clicks": self.rate(self.clicks),
            "bounces": round(self.bounces / self.sent, 4) if self.sent else 0.0,
            "complaints": self.rate(self.complaints),
            "unsubscribes": self.rate(self.unsubscribes),
        }

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rates": self.rates}


def _unique(event_filter: Any, edition_id: int) -> Any:
    """Distinct deliveries (or, for events without one, distinct rows) matching a filter."""
    key = func.coalesce(delivery_events.c.delivery_id, -delivery_events.c.id)
    return (
        select(func.count(distinct(key)))
        .where(delivery_events.c.edition_id == edition_id, event_filter)
        .scalar_subquery()
    )


def _total(event: str, edition_id: int) -> Any:
    return (
        select(func.count())
        .where(delivery_events.c.edition_id == edition_id, delivery_events.c.event == event)
        .scalar_subquery()
    )


def edition_stats(engine: Engine, edition_id: int) -> EditionStats:
    """Counts and rates for one edition."""
    ev = delivery_events.c.event
    query = select(
        editions.c.slug,
        editions.c.subject,
        editions.c.status,
        select(func.count())
        .where(deliveries.c.edition_id == edition_id, deliveries.c.status == "sent")
        .scalar_subquery()
        .label("sent"),
        _unique(ev == "delivered", edition_id).label("delivered"),
        _unique(ev == "open", edition_id).label("opens"),
        _unique(ev == "click", edition_id).label("clicks"),
        _unique(ev == "bounce", edition_id).label("bounces"),
        _unique(ev == "spamreport", edition_id).label("complaints"),
        _unique(ev.in_(["unsubscribe", "group_unsubscribe"]), edition_id).label("unsubscribes"),
        _total("open", edition_id).label("total_opens"),
        _total("click", edition_id).label("total_clicks"),
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
        base="delivered" if row.delivered else "sent",
    )
