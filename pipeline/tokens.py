"""Signed, expiring tokens for links in emails (itsdangerous).

A token carries its *purpose* (as the signer's salt, so a confirmation token never works as
an unsubscribe token) and the subscriber's id, plus an optional edition id. It reveals no
address. Lifetimes: confirmation 7 days; unsubscribe and preferences 400 days (the law asks
for at least 60; old issues in inboxes should keep working).

Signing is cheap (one HMAC-SHA256), since the sending engine makes a token per recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from pipeline.errors import WebError

Purpose = Literal["confirm", "unsubscribe", "preferences", "track"]

MAX_AGE: dict[str, timedelta] = {
    "confirm": timedelta(days=7),
    "unsubscribe": timedelta(days=400),
    "preferences": timedelta(days=400),
    # tracked links and the open pixel: a link in an old email still redirects
    "track": timedelta(days=3650),
}


@dataclass(frozen=True)
class TokenData:
    purpose: Purpose
    subscriber_id: int
    edition_id: int | None = None


@lru_cache(maxsize=32)
def _signer(secret: str, purpose: str) -> TimestampSigner:
    return TimestampSigner(secret, salt=f"newsletter.{purpose}")


def make_token(
    secret: str, purpose: Purpose, subscriber_id: int, edition_id: int | None = None
) -> str:
    """A URL-safe token for ``purpose`` and this subscriber (and edition)."""
    if not secret:
        raise WebError("no signing key", fix="set NEWSLETTER_SECRET_KEY")
    payload = str(subscriber_id) if edition_id is None else f"{subscriber_id}-{edition_id}"
    return _signer(secret, purpose).sign(payload).decode("ascii")


def read_token(
    secret: str, purpose: Purpose, token: str, *, max_age: timedelta | None = None
) -> TokenData:
    """Check a token's signature, purpose and age; raise WebError when it is not valid."""
    age = max_age or MAX_AGE[purpose]
    try:
        raw = _signer(secret, purpose).unsign(token, max_age=int(age.total_seconds()))
    except SignatureExpired:
        raise WebError(
            "this link has expired",
            fix="ask for a new one" if purpose == "confirm" else "use a link from a newer email",
        ) from None
    except BadSignature:
        raise WebError("this link is not valid", fix="copy the whole link from the email") from None
    sid, _, eid = raw.decode("ascii").partition("-")
    try:
        return TokenData(purpose, int(sid), int(eid) if eid else None)
    except ValueError:
        raise WebError("this link is not valid", fix="copy the whole link from the email") from None


def link(base_url: str, purpose: Purpose, token: str) -> str:
    """The public URL for a token: /confirm/T, /unsubscribe/T or /preferences/T."""
    return f"{base_url.rstrip('/')}/{purpose}/{token}"
