"""Removing subscribers by mistake (``newsletter subscribers remove``), with a log row.

Removal is not unsubscribing: the address is not suppressed and may be added again. With
lists, only those subscriptions go (one ``remove`` row in ``subscription_log`` each); without
lists the subscriber goes with their subscriptions and history, and one ``remove`` row
without a subscriber id is left saying which id was removed and from which lists. To stop
mail for good use ``unsubscribe``; to forget a person use ``erase``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, select

from pipeline.errors import SubscriberError
from pipeline.store.tables import lists as lists_table
from pipeline.store.tables import subscribers, subscriptions, utcnow
from pipeline.subscribers.history import list_ids, log_row, write_log
from pipeline.subscribers.normalise import normalise_email


@dataclass(frozen=True)
class Removal:
    subscriber_id: int
    email: str
    whole: bool  # True: the subscriber row went too
    lists: list[str] = field(default_factory=list)  # slugs whose subscription went


def remove_subscriber(
    engine: Engine,
    email: str,
    *,
    lists: Sequence[str] | None = None,
    method: str = "cli",
) -> Removal:
    """Delete ``email``'s subscriptions to ``lists``, or (no lists) the subscriber, without
    suppressing the address. Raises SubscriberError for an unknown address or list."""
    normalised = normalise_email(email)
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(
            select(subscribers.c.id).where(subscribers.c.email == normalised)
        ).first()
        if row is None:
            raise SubscriberError(
                f"no subscriber {email.strip().lower()}",
                fix="check the address with 'newsletter subscribers list'",
            )
        sub_id = int(row.id)
        wanted = list_ids(conn, list(dict.fromkeys(lists))) if lists else None
        held = {
            r.slug: (int(r.list_id), str(r.status))
            for r in conn.execute(
                select(lists_table.c.slug, subscriptions.c.list_id, subscriptions.c.status)
                .join(lists_table, lists_table.c.id == subscriptions.c.list_id)
                .where(subscriptions.c.subscriber_id == sub_id)
            )
        }
        if wanted is not None:
            gone = [slug for slug in wanted if slug in held]
            conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.subscriber_id == sub_id,
                    subscriptions.c.list_id.in_(list(wanted.values())),
                )
            )
            write_log(
                conn,
                [
                    log_row(sub_id, held[s][0], "remove", held[s][1], None, method=method, at=now)
                    for s in gone
                ],
            )
            return Removal(sub_id, normalised, False, gone)
        conn.execute(delete(subscribers).where(subscribers.c.id == sub_id))
        write_log(
            conn,
            [
                log_row(
                    None,
                    None,
                    "remove",
                    None,
                    None,
                    method=method,
                    at=now,
                    detail={
                        "subscriber_id": sub_id,
                        "subscriptions": {s: status for s, (_, status) in sorted(held.items())},
                    },
                )
            ],
        )
        return Removal(sub_id, normalised, True, sorted(held))
