"""Who a link in an email acts on, and whether it may still act.

- :func:`subscriber_for_token`: the subscriber a token names, by its random ``public_id``.
  A link made before public ids (``Token.legacy_id``: the row id) is accepted only for a
  subscriber created before the link was signed, so an id that SQLite once reused can never
  act on the new person.
- :func:`last_opt_out`: when the person last left (a list, or the address was suppressed).
  A confirmation link older than that never subscribes them again.
- :func:`spend_token` / :func:`spend_once`: single use. The first call for a token (or a
  solved bot challenge) wins; the rest answer False.
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
    """Mark ``token`` used; False when it was used before."""
    return spend_once(engine, token, token_data.purpose, expires_at, now=token_data.issued_at)


def spend_once(
    engine: Engine, value: str, purpose: str, expires_at: datetime, now: datetime
) -> bool:
    """Remember ``value`` (a token, a solved challenge) as used until ``expires_at``; False
    when it was used before. Marks whose time is over are cleared now and then."""
    digest = hashlib.sha256(f"{purpose}:{value}".encode()).hexdigest()
    try:
        with engine.begin() as conn:
            conn.execute(
                spent_tokens.insert().values(digest=digest, purpose=purpose, expires_at=expires_at)
            )
    except IntegrityError:
        return False
    if digest.startswith("0"):  # one call in 16 clears the expired marks
        with engine.begin() as conn:
            conn.execute(delete(spent_tokens).where(spent_tokens.c.expires_at < now))
    return True
