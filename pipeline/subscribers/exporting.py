"""Exports: a CSV of one list or of everyone (with consent), and one person's data as JSON.

The CSV has one row per subscription (a subscriber on two lists has two rows; one without
any subscription has one row with an empty ``list``), in the ``newsletter`` import format,
so an export imported into an empty database gives back the same subscribers. Rows are
streamed (server-side cursor on PostgreSQL), so memory stays flat for large lists.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Engine, or_, select

from pipeline.csvcells import safe_cell
from pipeline.errors import SubscriberError
from pipeline.store.tables import (
    deliveries,
    delivery_events,
    editions,
    lists,
    subscribers,
    subscription_log,
    subscriptions,
    suppressions,
)
from pipeline.subscribers.formats import NEWSLETTER_COLUMNS
from pipeline.subscribers.history import list_ids
from pipeline.subscribers.normalise import normalise_email
from pipeline.subscribers.suppression import hash_with_salt, suppression_salt

EXPORT_COLUMNS = NEWSLETTER_COLUMNS


def _time(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def export_csv(engine: Engine, out: TextIO, list_slugs: Sequence[str] | None = None) -> int:
    """Write the subscribers of ``list_slugs`` (everyone when None) to ``out``; returns the
    number of rows written."""
    with engine.connect() as conn:
        wanted = list_ids(conn, list_slugs) if list_slugs else None
        query = (
            select(
                subscribers.c.email,
                subscribers.c.name,
                lists.c.slug,
                subscriptions.c.status,
                subscriptions.c.consent_at,
                subscriptions.c.consent_method,
                subscriptions.c.consent_text,
                subscriptions.c.consent_ip,
                subscriptions.c.confirmed_at,
                subscriptions.c.confirm_ip,
                subscriptions.c.unsubscribed_at,
                subscribers.c.status.label("subscriber_status"),
                subscribers.c.created_at,
                subscribers.c.attributes,
            )
            .select_from(
                subscribers.outerjoin(
                    subscriptions, subscriptions.c.subscriber_id == subscribers.c.id
                ).outerjoin(lists, lists.c.id == subscriptions.c.list_id)
            )
            .order_by(subscribers.c.id, lists.c.slug)
        )
        if wanted is not None:
            query = query.where(subscriptions.c.list_id.in_(list(wanted.values())))
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        count = 0
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
        for row in result:
            writer.writerow(
                safe_cell(cell)
                for cell in [
                    row.email,
                    row.name,
                    row.slug or "",
                    row.status or "",
                    _time(row.consent_at),
                    row.consent_method or "",
                    row.consent_text or "",
                    row.consent_ip or "",
                    _time(row.confirmed_at),
                    row.confirm_ip or "",
                    _time(row.unsubscribed_at),
                    row.subscriber_status,
                    _time(row.created_at),
                    json.dumps(row.attributes, ensure_ascii=False, sort_keys=True)
                    if row.attributes
                    else "",
                ]
            )
            count += 1
    return count


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def export_person(engine: Engine, email: str) -> dict[str, Any]:
    """Everything held about one person (GDPR access request), as plain JSON-able data."""
    normalised = normalise_email(email)
    digest = hash_with_salt(suppression_salt(engine), normalised)
    with engine.connect() as conn:
        person = conn.execute(select(subscribers).where(subscribers.c.email == normalised)).first()
        suppression = conn.execute(
            select(suppressions.c.reason, suppressions.c.source, suppressions.c.created_at).where(
                suppressions.c.address_hash == digest
            )
        ).first()
        sent = conn.execute(
            select(
                deliveries.c.id,
                editions.c.slug.label("edition"),
                editions.c.subject,
                deliveries.c.status,
                deliveries.c.sent_at,
                deliveries.c.error,
            )
            .join(editions, editions.c.id == deliveries.c.edition_id)
            .where(
                or_(
                    deliveries.c.email == normalised,
                    deliveries.c.subscriber_id == (person.id if person else -1),
                )
            )
            .order_by(deliveries.c.id)
        ).all()
        events = conn.execute(
            select(
                delivery_events.c.delivery_id,
                delivery_events.c.event,
                delivery_events.c.occurred_at,
                delivery_events.c.detail,
            )
            .where(delivery_events.c.delivery_id.in_([d.id for d in sent]))
            .order_by(delivery_events.c.id)
        ).all()
        subs: Sequence[Any] = []
        log: Sequence[Any] = []
        if person is not None:
            subs = conn.execute(
                select(lists.c.slug.label("list"), subscriptions)
                .join(lists, lists.c.id == subscriptions.c.list_id)
                .where(subscriptions.c.subscriber_id == person.id)
                .order_by(lists.c.slug)
            ).all()
            log = conn.execute(
                select(subscription_log, lists.c.slug.label("list"))
                .outerjoin(lists, lists.c.id == subscription_log.c.list_id)
                .where(subscription_log.c.subscriber_id == person.id)
                .order_by(subscription_log.c.id)
            ).all()
    if person is None and suppression is None and not sent:
        raise SubscriberError(f"no data is held about {normalised}")

    def clean(row: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
        return {k: _plain(v) for k, v in row._mapping.items() if k not in drop}

    return {
        "email": normalised,
        "subscriber": clean(person) if person is not None else None,
        "subscriptions": [clean(s, ("subscriber_id", "list_id")) for s in subs],
        "history": [clean(entry, ("subscriber_id", "list_id")) for entry in log],
        "suppression": clean(suppression) if suppression is not None else None,
        "deliveries": [clean(d) for d in sent],
        "delivery_events": [clean(e) for e in events],
    }
