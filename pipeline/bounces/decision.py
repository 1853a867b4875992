"""The one place that decides suppression from bounces and complaints.

Every source calls ``apply_bounce``: SendGrid's event webhook, the bounce mailbox
(``newsletter bounces fetch``) and SMTP refusals at send time (a 5xx answer to RCPT or
DATA). The rules, written once:

- a *hard* bounce (permanent failure: 5.x.x, SMTP 5xx) suppresses the address at once
  (reason ``bounced``);
- a *complaint* (spam report) suppresses it at once (reason ``complained``);
- a *soft* bounce (temporary: 4.x.x, mailbox full) is recorded; the address is suppressed
  when ``bounces.soft_limit`` soft bounces arrived within ``bounces.soft_window_days``.

Soft bounces are counted from ``delivery_events`` of the person's deliveries (our
``soft_bounce`` events, and SendGrid's ``bounce`` events of type "blocked"), so the count
survives restarts and needs no table of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, and_, func, insert, literal, or_, select

from pipeline.config import BouncesSection
from pipeline.store.tables import deliveries, delivery_events, subscribers
from pipeline.subscribers.normalise import normalise_email
from pipeline.subscribers.segments.query import field_text
from pipeline.subscribers.suppression import address_hash, suppress_in

BounceKind = Literal["hard", "soft", "complaint"]
Verdict = Literal["suppressed", "counted", "already"]

#: The event each kind is recorded as (hard bounces as SendGrid names them).
EVENT_FOR: dict[str, str] = {"hard": "bounce", "soft": "soft_bounce", "complaint": "spamreport"}


@dataclass(frozen=True)
class Bounce:
    email: str
    kind: BounceKind
    source: str  # sendgrid | mailbox | smtp
    occurred_at: datetime
    delivery_id: int | None = None
    edition_id: int | None = None
    reason: str = ""  # the status or diagnostic, for people
    event_id: str | None = None  # dedupe key (e.g. the bounce message's Message-ID)
    detail: dict[str, Any] = field(default_factory=dict)


def apply_bounce(
    engine: Engine, rules: BouncesSection, bounce: Bounce, *, record: bool = True
) -> Verdict:
    """Record ``bounce`` (unless the caller records it: ``record=False``) and suppress the
    address when the rules say so. Idempotent for a repeated ``event_id``."""
    email = normalise_email(bounce.email, check_dns=False)
    digest = address_hash(engine, email)
    with engine.begin() as conn:
        if bounce.event_id is not None:
            seen = conn.execute(
                select(delivery_events.c.id).where(
                    delivery_events.c.provider_event_id == bounce.event_id
                )
            ).first()
            if seen is not None:
                return "already"
        subscriber_id = conn.execute(
            select(subscribers.c.id).where(subscribers.c.email == email)
        ).scalar_one_or_none()
        if record:
            conn.execute(
                insert(delivery_events).values(
                    provider_event_id=bounce.event_id,
                    delivery_id=bounce.delivery_id,
                    edition_id=bounce.edition_id,
                    event=EVENT_FOR[bounce.kind],
                    detail={
                        "source": bounce.source,
                        "reason": bounce.reason[:500],
                        **bounce.detail,
                    },
                    occurred_at=bounce.occurred_at,
                    received_at=bounce.occurred_at,
                )
            )
        if bounce.kind == "soft":
            if subscriber_id is None:
                return "counted"
            path = '$."type"' if conn.dialect.name == "sqlite" else "type"
            since = bounce.occurred_at - timedelta(days=rules.soft_window_days)
            soft = or_(
                delivery_events.c.event == "soft_bounce",
                and_(
                    delivery_events.c.event == "bounce",
                    func.coalesce(field_text(delivery_events.c.detail, literal(path)), "")
                    == "blocked",
                ),
            )
            count = conn.execute(
                select(func.count())
                .select_from(
                    delivery_events.join(
                        deliveries, deliveries.c.id == delivery_events.c.delivery_id
                    )
                )
                .where(
                    deliveries.c.subscriber_id == subscriber_id,
                    soft,
                    delivery_events.c.occurred_at >= since,
                )
            ).scalar_one() + (0 if record else 1)  # the caller records this one afterwards
            if count < rules.soft_limit:
                return "counted"
            why = f"{count} soft bounces within {rules.soft_window_days} days"
        else:
            why = bounce.reason or bounce.kind
        reason = "complained" if bounce.kind == "complaint" else "bounced"
        suppress_in(
            conn,
            digest,
            subscriber_id,
            reason,
            source=f"{bounce.source}: {why}"[:200],
            method=bounce.source[:20],
        )
    return "suppressed"


def is_recipient_refusal(error: str | None) -> bool:
    """True for an SMTP error text that refuses the recipient for good (``SMTP 5xx ...``)."""
    return bool(error) and error.startswith("SMTP 5")  # type: ignore[union-attr]


def when(value: datetime | None, default: datetime) -> datetime:
    return value or default
