"""Delivery events from the provider: SendGrid's Event Webhook batches, recorded against
the delivery ledger, and unsubscribes made through our own links, counted per edition.

The web face checks the webhook's signature and hands the parsed events to
:func:`record_events`; nothing here knows HTTP.

The sending stage puts ``custom_args`` in every personalization: ``delivery_id`` (the
ledger row's id, a string) and the edition, as ``edition_id`` (its id, a string) or
``edition`` (its slug); SendGrid copies them into each event as top-level keys, so an event
finds its delivery without a lookup by message id.

Each event is recorded once (``delivery_events.provider_event_id`` holds SendGrid's unique
``sg_event_id``). Its consequence runs before it is recorded, so a crash in between means
SendGrid's retry repeats an idempotent action rather than losing it:

- ``bounce`` with ``type`` "bounce" (a hard bounce; "blocked" is not) and ``spamreport``: the
  one suppression decision (``pipeline.bounces.decision``);
- ``unsubscribe`` / ``group_unsubscribe``: unsubscribe from every list;
- opens and clicks keep only SendGrid's human/machine verdict (``tracking.classify``).

One bad event never stops the rest; it is counted as ignored. (This module sits in
``sending`` because it uses both ``bounces`` and ``tracking``, which the flow contract keeps
independent of each other; the ledger it writes to is the sending stage's.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from pipeline.bounces.decision import Bounce, apply_bounce
from pipeline.config import BouncesSection
from pipeline.errors import NewsletterError
from pipeline.store.tables import deliveries, delivery_events, editions
from pipeline.tracking.classify import sendgrid_verdict

log = logging.getLogger("pipeline.sending")

#: Keys of an event worth keeping (the address is not: the delivery row links to it, and
#: erasing a person must not leave it behind in event details; nor are the IP address and
#: user agent of opens and clicks: only the human/machine verdict is kept).
DETAIL_KEYS = (
    "type",
    "reason",
    "status",
    "url",
    "sg_message_id",
    "bounce_classification",
    "asm_group_id",
    "attempt",
)


@dataclass(frozen=True)
class EventReport:
    received: int = 0
    recorded: int = 0
    duplicates: int = 0
    ignored: int = 0


# ---- recording -------------------------------------------------------------------------------
def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**62 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 18:
        return int(value)
    return None


def _when(value: Any, default: datetime) -> datetime:
    seconds = _int(value)
    if seconds is None or seconds > 32503680000:  # year 3000
        return default
    return datetime.fromtimestamp(seconds, UTC)


def _detail(event: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in DETAIL_KEYS:
        value = event.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            out[key] = value[:500] if isinstance(value, str) else value
    return out


def _act(
    engine: Engine,
    event: str,
    kind: str,
    email: str,
    subscriber_id: int | None,
    *,
    rules: BouncesSection,
    now: datetime,
    delivery_id: int | None = None,
    edition_id: int | None = None,
) -> None:
    """The consequence of one new event for the subscriber. Bounces and spam reports go
    to the one suppression decision (``pipeline.bounces.decision``); a "blocked" bounce
    is a soft one, counted there. The event itself is recorded by the caller."""
    from pipeline.subscribers import service

    if event in ("bounce", "spamreport"):
        bounce_kind = "complaint" if event == "spamreport" else "hard"
        if event == "bounce" and kind != "bounce":
            bounce_kind = "soft"
        apply_bounce(
            engine,
            rules,
            Bounce(
                email=email,
                kind=bounce_kind,  # type: ignore[arg-type]
                source="sendgrid",
                occurred_at=now,
                delivery_id=delivery_id,
                edition_id=edition_id,
                reason=kind or event,
            ),
            record=False,
        )
    elif event in ("unsubscribe", "group_unsubscribe"):
        if subscriber_id is None:
            found = service.get_subscriber(engine, email=email)
            subscriber_id = found.id if found is not None else None
        if subscriber_id is not None:
            service.unsubscribe(engine, subscriber_id, None, method="sendgrid")
        else:
            service.suppress(engine, email, "unsubscribed", source="sendgrid")


def record_events(
    engine: Engine,
    events: Iterable[Any],
    *,
    now: datetime,
    rules: BouncesSection | None = None,
) -> EventReport:
    """Record a webhook batch: dedupe by sg_event_id, act, store. Returns the counts."""
    batch = list(events)
    ids = {e.get("sg_event_id") for e in batch if isinstance(e, dict)}
    wanted = [i for i in ids if isinstance(i, str) and 0 < len(i) <= 200]
    with engine.connect() as conn:
        seen = set(
            conn.execute(
                select(delivery_events.c.provider_event_id).where(
                    delivery_events.c.provider_event_id.in_(wanted)
                )
            ).scalars()
        )
    recorded = duplicates = ignored = 0
    for event in batch:
        outcome = _record_one(engine, event, seen, now, rules or BouncesSection())
        recorded += outcome == "recorded"
        duplicates += outcome == "duplicate"
        ignored += outcome == "ignored"
    return EventReport(len(batch), recorded, duplicates, ignored)


def _record_one(
    engine: Engine, event: Any, seen: set[str | None], now: datetime, rules: BouncesSection
) -> str:
    if not isinstance(event, dict):
        return "ignored"
    name = event.get("event")
    if not isinstance(name, str) or not name or len(name) > 40:
        return "ignored"
    event_id = event.get("sg_event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 200:
        event_id = None
    if event_id is not None and event_id in seen:
        return "duplicate"
    delivery_id, edition_id, subscriber_id = _find_delivery(engine, event)
    email = event.get("email") if isinstance(event.get("email"), str) else ""
    try:
        if email:
            kind = event.get("type") if isinstance(event.get("type"), str) else ""
            _act(
                engine,
                name,
                str(kind),
                str(email),
                subscriber_id,
                rules=rules,
                now=now,
                delivery_id=delivery_id,
                edition_id=edition_id,
            )
        verdict = sendgrid_verdict(event)
        values = {
            "provider_event_id": event_id,
            "delivery_id": delivery_id,
            "edition_id": edition_id,
            "event": name,
            "detail": _detail(event),
            "occurred_at": _when(event.get("timestamp"), now),
            "received_at": now,
            "verdict": verdict.verdict if verdict else None,
            "reason": verdict.reason if verdict else None,
            "source": "sendgrid",
        }
        with engine.begin() as conn:
            if event_id is not None:
                exists = conn.execute(
                    select(delivery_events.c.id).where(
                        delivery_events.c.provider_event_id == event_id
                    )
                ).first()
                if exists is not None:
                    return "duplicate"
            conn.execute(insert(delivery_events).values(**values))
    except NewsletterError as exc:
        log.warning("webhook event %s not used: %s", event_id or name, exc)
        return "ignored"
    seen.add(event_id)
    return "recorded"


def _find_delivery(engine: Engine, event: Mapping[str, Any]) -> tuple[int | None, ...]:
    """(delivery id, edition id, subscriber id) from the event's custom_args, if they exist."""
    delivery_id = _int(event.get("delivery_id"))
    edition_id = _int(event.get("edition_id"))
    with engine.connect() as conn:
        if delivery_id is not None:
            row = conn.execute(
                select(deliveries.c.id, deliveries.c.edition_id, deliveries.c.subscriber_id).where(
                    deliveries.c.id == delivery_id
                )
            ).first()
            if row is not None:
                return row.id, row.edition_id, row.subscriber_id
        if edition_id is not None:
            known = conn.execute(select(editions.c.id).where(editions.c.id == edition_id)).first()
            if known is not None:
                return None, edition_id, None
        slug = event.get("edition")
        if isinstance(slug, str) and 0 < len(slug) <= 200:
            found = conn.execute(select(editions.c.id).where(editions.c.slug == slug)).first()
            if found is not None:
                return None, found.id, None
    return None, None, None


def record_link_unsubscribe(
    engine: Engine, subscriber_id: int, edition_id: int | None, *, source: str, now: datetime
) -> None:
    """Count an unsubscribe made through our own link (page or one-click) for the edition
    whose email carried it, so ``issue stats`` sees it with any transport."""
    with engine.begin() as conn:
        row = None
        if edition_id is not None:
            row = conn.execute(
                select(deliveries.c.id, deliveries.c.edition_id).where(
                    deliveries.c.edition_id == edition_id,
                    deliveries.c.subscriber_id == subscriber_id,
                )
            ).first()
            if row is None:
                known = conn.execute(
                    select(editions.c.id).where(editions.c.id == edition_id)
                ).first()
                edition_id = edition_id if known is not None else None
        conn.execute(
            insert(delivery_events).values(
                provider_event_id=None,
                delivery_id=row.id if row is not None else None,
                edition_id=edition_id,
                event="unsubscribe",
                detail={"source": source},
                occurred_at=now,
                received_at=now,
                source="web",
            )
        )
