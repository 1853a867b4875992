"""Who a link in an email acts on, and whether it may still act.

- :func:`subscriber_for_token`: the subscriber a token names, by its random ``public_id``.
  A link made before public ids (``Token.legacy_id``: the row id) is accepted only for a
  subscriber created before the link was signed, so an id that SQLite once reused can never
  act on the new person.
- :func:`last_opt_out`: when the person last left (a list, or the address was suppressed).
  A confirmation link older than that never subscribes them again.
- :func:`spend_token`: single use. The first call for a token wins; the rest answer False.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError

from pipeline.store.tables import spent_tokens, subscriptions, suppressions
from pipeline.subscribers.service import SubscriberInfo, get_subscriber
from pipeline.subscribers.suppression import address_hash
from pipeline.tokens import Token


def subscriber_for_token(engine: Engine, token: Token) -> SubscriberInfo | None:
    """The subscriber ``token`` names, or None (erased, unknown, or a reused legacy id)."""
    if token.legacy_id is not None:
        info = get_subscriber(engine, subscriber_id=token.legacy_id)
        # legacy signatures have whole seconds
        if info is None or info.created_at is None:
            return None
        if info.created_at.replace(microsecond=0) > token.issued_at:
            return None
        return info
    if not token.subject:
        return None
    return get_subscriber(engine, public_id=token.subject)


def last_opt_out(engine: Engine, info: SubscriberInfo) -> datetime | None:
    """The latest time this person unsubscribed from a list or had the address suppressed."""
    digest = address_hash(engine, info.email)
    with engine.connect() as conn:
        left = conn.execute(
            select(func.max(subscriptions.c.unsubscribed_at)).where(
                subscriptions.c.subscriber_id == info.id
            )
        ).scalar_one_or_none()
        suppressed = conn.execute(
            select(suppressions.c.created_at).where(suppressions.c.address_hash == digest)
        ).scalar_one_or_none()
    times = [t for t in (left, suppressed) if t is not None]
    return max(times) if times else None


def spend_token(engine: Engine, token: str, token_data: Token, expires_at: datetime) -> bool:
    """Mark ``token`` used; False when it was used before. Expired marks are cleared."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    try:
        with engine.begin() as conn:
            conn.execute(
                spent_tokens.insert().values(
                    digest=digest, purpose=token_data.purpose, expires_at=expires_at
                )
            )
    except IntegrityError:
        return False
    with engine.begin() as conn:
        conn.execute(delete(spent_tokens).where(spent_tokens.c.expires_at < token_data.issued_at))
    return True
