"""Sunsetting: unsubscribe people who no longer open or click, to keep the list healthy.

Someone is *inactive* over a period when they were sent at least ``min_issues`` issues in
it and no open or click of theirs was recorded in it. ``find_inactive`` lists them (the
dry run); ``sunset_inactive`` unsubscribes them from every list with the reason kept in the
subscription log (``sunset``) and in the suppression's source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, exists, func, not_, select

from pipeline.errors import SubscriberError
from pipeline.store.tables import deliveries, delivery_events, subscribers, utcnow
from pipeline.subscribers.history import log_row, write_log
from pipeline.subscribers.segments.query import BY_A_PERSON, OPEN_EVENTS
from pipeline.subscribers.suppression import hash_with_salt, suppress_in, suppression_salt

_PERIOD = re.compile(r"(\d{1,5})\s*([dw])\Z")


def parse_period(text: str, option: str = "--inactive") -> timedelta:
    """'180d' or '26w' as a timedelta; SubscriberError naming ``option`` otherwise."""
    found = _PERIOD.match(text.strip().lower())
    if found is None or int(found.group(1)) == 0:
        raise SubscriberError(
            f"{option} {text!r} is not a period", fix="write days or weeks, e.g. 180d or 26w"
        )
    n = int(found.group(1))
    return timedelta(days=n * (7 if found.group(2) == "w" else 1))


@dataclass(frozen=True)
class Inactive:
    subscriber_id: int
    email: str
    sent: int  # issues sent to them in the period
    created_at: datetime


def find_inactive(
    engine: Engine, *, now: datetime, period: timedelta, min_issues: int
) -> list[Inactive]:
    """Active subscribers sent at least ``min_issues`` issues since ``now - period`` who
    opened or clicked none of anything in that time (one query)."""
    since = now - period
    sent = (
        select(func.count())
        .select_from(deliveries)
        .where(
            deliveries.c.subscriber_id == subscribers.c.id,
            deliveries.c.status == "sent",
            deliveries.c.sent_at >= since,
        )
        .scalar_subquery()
    )
    engaged = exists().where(
        deliveries.c.subscriber_id == subscribers.c.id,
        delivery_events.c.delivery_id == deliveries.c.id,
        delivery_events.c.event.in_(OPEN_EVENTS),
        BY_A_PERSON,
        delivery_events.c.occurred_at >= since,
    )
    query = (
        select(subscribers.c.id, subscribers.c.email, sent.label("sent"), subscribers.c.created_at)
        .where(and_(subscribers.c.status == "active", sent >= min_issues, not_(engaged)))
        .order_by(subscribers.c.id)
    )
    with engine.connect() as conn:
        return [Inactive(r.id, r.email, int(r.sent), r.created_at) for r in conn.execute(query)]


def sunset_inactive(
    engine: Engine, people: Sequence[Inactive], *, now: datetime, period: timedelta
) -> int:
    """Unsubscribe each from every list (suppressed as 'unsubscribed', source 'sunset'),
    logging why; returns how many changed."""
    salt = suppression_salt(engine)
    days = period.days
    done = 0
    for person in people:
        with engine.begin() as conn:
            status = conn.execute(
                select(subscribers.c.status).where(subscribers.c.id == person.subscriber_id)
            ).scalar_one_or_none()
            if status != "active":
                continue
            suppress_in(
                conn,
                hash_with_salt(salt, person.email),
                person.subscriber_id,
                "unsubscribed",
                source=f"sunset: no open or click in {days} days",
                method="sunset",
            )
            write_log(
                conn,
                [
                    log_row(
                        person.subscriber_id,
                        None,
                        "sunset",
                        "active",
                        "unsubscribed",
                        method="sunset",
                        at=utcnow(),
                        detail={"inactive_days": days, "issues_sent": person.sent},
                    )
                ],
            )
            done += 1
    return done
