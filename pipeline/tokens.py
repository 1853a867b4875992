"""Signed, purpose-bound, expiring tokens for links in emails: HMAC-SHA256 from the standard
library with keys derived once per process.

A token names a *subject* (the subscriber's random ``public_id``, never the row id), a
*purpose* (``confirm``, ``unsubscribe``, ``preferences``, ``track``, ...), optional *data*
(an edition id, the confirmed lists) and the time it was made::

    <subject>.<data>.<issued, hex milliseconds>.<HMAC-SHA256 of the rest, first 128 bits, hex>

``data`` is written as is when it is made of ``A-Z a-z 0-9 _ , -`` (an edition id, list
slugs), else as ``~`` + base64url. The purpose is not written in the token: it selects the
key (``hmac.digest(secret, "newsletter.token." + purpose)``, derived once per process and
cached), so a confirmation token never works as an unsubscribe token. A token reveals no
address and no row id.

Lifetimes (checked when read, from the issue time): confirmation 7 days, everything else
400 days (the law asks for at least 60; old issues in inboxes should keep working).

Key rotation: :class:`Keys` holds the current key and, optionally, the previous one and
the time until which tokens signed with it are still accepted (``security.previous_key_until``).
New tokens are always signed with the current key.

Links made before this format (itsdangerous ``TimestampSigner`` tokens that carried the
row id) are still read for ``unsubscribe`` and ``preferences``: :func:`read_token` returns
them with ``legacy_id`` set, and the caller accepts them only for a subscriber created
before the token was signed, so a reused id can never act on someone else
(``pipeline.subscribers.service.subscriber_for_token``). docs/security.md has the details.

Speed: the HMAC's inner and outer pad states are computed once per key and purpose (RFC
2104); a token then costs two SHA-256 state copies and two short updates, about 3x faster
than ``hmac.digest`` per call and bit-for-bit the same value (a test checks it against
``hmac``). ``bench/bench_tokens.py`` measures it beside itsdangerous and a bare
``hmac.digest``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from pipeline.errors import ConfigError, WebError

__all__ = [
    "MAX_AGE",
    "MIN_KEY_BYTES",
    "Keys",
    "Token",
    "check_secret_key",
    "check_subject",
    "issued_hex",
    "link",
    "make_token",
    "new_public_id",
    "new_secret_key",
    "read_token",
    "signer",
]

#: How long a token of each purpose stays valid; other purposes get DEFAULT_MAX_AGE.
MAX_AGE: dict[str, timedelta] = {
    "confirm": timedelta(days=7),
    "unsubscribe": timedelta(days=400),
    "preferences": timedelta(days=400),
    # tracked links and the open pixel: a link in an old email still redirects
    "track": timedelta(days=3650),
}
DEFAULT_MAX_AGE = timedelta(days=400)

MIN_KEY_BYTES = 32
#: Values seen in examples and tutorials; refused whatever their length.
PLACEHOLDER_KEYS = frozenset(
    {
        "change-me",
        "changeme",
        "secret",
        "your-secret-key",
        "replace-me",
        "please-change-me",
        "insecure",
        "dev",
        "test",
        "xxx",
    }
)
KEY_HELP = (
    "make one with 'newsletter secret' (or: python3 -c "
    '"import secrets; print(secrets.token_urlsafe(48))") and set it as NEWSLETTER_SECRET_KEY'
)

_SUBJECT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PURPOSE = re.compile(r"[a-z][a-z0-9-]{0,31}")
_PLAIN = re.compile(r"[A-Za-z0-9_,-]*")
_SIG_CHARS = 32  # 16 bytes of HMAC-SHA256, hex
MAX_TOKEN = 600


#: The length of a subscriber's public id (32 hex characters).
PUBLIC_ID_LENGTH = 32


def new_public_id() -> str:
    """A random identifier for a subscriber (128 bits, 32 hex characters)."""
    return secrets.token_hex(PUBLIC_ID_LENGTH // 2)


def new_secret_key() -> str:
    """A fresh signing key (48 random bytes, URL-safe text)."""
    return secrets.token_urlsafe(48)


def check_secret_key(value: str, *, name: str = "NEWSLETTER_SECRET_KEY") -> str:
    """``value`` if it is usable as a signing key; a ConfigError that says how to make one."""
    lowered = value.strip().lower()
    if (
        lowered in PLACEHOLDER_KEYS
        or any(m in lowered for m in ("change-me", "changeme", "newsletter secret"))
        or any(c in value for c in "<> ")
    ):
        raise ConfigError(f"{name} is a placeholder from an example", fix=KEY_HELP)
    if len(value.encode("utf-8")) < MIN_KEY_BYTES:
        raise ConfigError(
            f"{name} is too short ({len(value.encode('utf-8'))} bytes; at least "
            f"{MIN_KEY_BYTES} are needed so that links cannot be forged)",
            fix=KEY_HELP,
        )
    return value


@dataclass(frozen=True)
class Keys:
    """The signing keys: ``current`` signs and verifies; ``previous`` (after a rotation)
    only verifies, until ``previous_until`` (None: for as long as it is configured)."""

    current: str
    previous: str = ""
    previous_until: datetime | None = None

    def accepts_previous(self, now: datetime) -> bool:
        return bool(self.previous) and (self.previous_until is None or now < self.previous_until)


@dataclass(frozen=True)
class Token:
    """What a valid token says."""

    purpose: str
    subject: str  # the subscriber's public id ("" for a legacy token)
    data: str
    issued_at: datetime
    legacy_id: int | None = None  # row id carried by a link made before public ids
    previous_key: bool = False  # signed with the previous key (during a rotation)

    @property
    def subscriber_id(self) -> int | None:
        """A numeric subject (callers that still sign row ids, e.g. tracking), else None."""
        return int(self.subject) if self.subject.isdigit() else self.legacy_id

    @property
    def edition_id(self) -> int | None:
        """The edition an unsubscribe token was made for (its data), if any."""
        return int(self.data) if self.data.isdigit() else None


_Pads = tuple[Any, Any]  # hashlib sha256 objects (inner, outer)


@lru_cache(maxsize=64)
def _key(secret: str, purpose: str) -> _Pads:
    """The per-purpose HMAC key, derived once per (secret, purpose) per process, as the
    SHA-256 states after its inner and outer pads (what every HMAC with it starts from)."""
    key = hmac.digest(secret.encode("utf-8"), b"newsletter.token." + purpose.encode(), "sha256")
    block = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


def _as_keys(keys: Keys | str) -> Keys:
    return keys if isinstance(keys, Keys) else Keys(keys)


def _sign(pads: _Pads, payload: bytes) -> str:
    """HMAC-SHA256(key, payload), first 16 bytes in hex (== hmac.digest(...)[:16].hex())."""
    inner = pads[0].copy()
    inner.update(payload)
    outer = pads[1].copy()
    outer.update(inner.digest())
    return str(outer.hexdigest()[:_SIG_CHARS])


def _b64(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode("utf-8")).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")


def make_token(
    keys: Keys | str,
    purpose: str,
    subject: str | int,
    data: str | int | None = "",
    *,
    now: datetime | None = None,
) -> str:
    """A URL-safe token for ``purpose`` about ``subject`` (a subscriber's public id), with
    optional ``data`` (text or a number) inside the signature."""
    secret = keys.current if isinstance(keys, Keys) else keys
    if not secret:
        raise WebError("no signing key", fix="set NEWSLETTER_SECRET_KEY")
    if isinstance(subject, int):
        subject = str(subject)
    if data is None:
        data = ""
    if not _SUBJECT.fullmatch(subject):
        raise ValueError(f"a token subject is 1-64 URL-safe characters, not {subject!r}")
    issued = int((now.timestamp() if now is not None else time.time()) * 1000)
    text = data if isinstance(data, str) else str(data)
    if text and not _PLAIN.fullmatch(text):
        text = "~" + _b64(text)
    payload = f"{subject}.{text}.{issued:x}"
    return payload + "." + _sign(_key(secret, purpose), payload.encode("ascii"))


def check_subject(subject: str) -> None:
    """ValueError unless ``subject`` can be a token's subject (1-64 URL-safe characters)."""
    if not _SUBJECT.fullmatch(subject):
        raise ValueError(f"a token subject is 1-64 URL-safe characters, not {subject!r}")


def issued_hex(now: datetime | None = None) -> str:
    """A token's issue time as it is written: milliseconds since the epoch, hex."""
    return f"{int((now.timestamp() if now is not None else time.time()) * 1000):x}"


class Signer:
    """``make_token`` for one purpose and one ``data`` value, for many subjects (the links
    of a batch of recipients): the key, the data's encoding and the checks of both are done
    once, so a token costs its HMAC and a few string joins. The tokens are those of
    ``make_token`` (a test compares them)."""

    __slots__ = ("_middle", "_pads")

    def __init__(self, secret: str, purpose: str, data: str | int | None = "") -> None:
        if not secret:
            raise WebError("no signing key", fix="set NEWSLETTER_SECRET_KEY")
        text = "" if data is None else data if isinstance(data, str) else str(data)
        if text and not _PLAIN.fullmatch(text):
            text = "~" + _b64(text)
        self._pads = _key(secret, purpose)
        self._middle = f".{text}."

    def __call__(self, subject: str, now: datetime | None = None) -> str:
        check_subject(subject)
        return self.token(subject, issued_hex(now))

    def token(self, subject: str, issued: str) -> str:
        """The token for a ``subject`` already checked (:func:`check_subject`), issued at
        ``issued`` (:func:`issued_hex`): the tokens of one recipient share both."""
        payload = f"{subject}{self._middle}{issued}"
        inner = self._pads[0].copy()
        inner.update(payload.encode("ascii"))
        outer = self._pads[1].copy()
        outer.update(inner.digest())
        return f"{payload}.{outer.hexdigest()[:_SIG_CHARS]}"


@lru_cache(maxsize=256)
def signer(secret: str, purpose: str, data: str | int | None = "") -> Signer:
    """The :class:`Signer` for (key, purpose, data), made once per process."""
    return Signer(secret, purpose, data)


def _invalid() -> WebError:
    return WebError("this link is not valid", fix="copy the whole link from the email")


def read_token(
    keys: Keys | str,
    purpose: str,
    token: str,
    *,
    now: datetime | None = None,
    max_age: timedelta | None = None,
) -> Token:
    """Check a token's signature, purpose and age; raise WebError when it is not valid."""
    keys = _as_keys(keys)
    when = now or datetime.now(UTC)
    if not token or len(token) > MAX_TOKEN or not _PURPOSE.fullmatch(purpose):
        raise _invalid()
    parts = token.split(".")
    if len(parts) != 4:
        return _read_legacy(keys, purpose, token, when, max_age)
    subject, data_text, issued_hex, signature = parts
    if not token.isascii():
        raise _invalid()
    payload = token[: -len(signature) - 1].encode("ascii")
    previous = False
    if not hmac.compare_digest(_sign(_key(keys.current, purpose), payload), signature):
        if not (
            keys.accepts_previous(when)
            and hmac.compare_digest(_sign(_key(keys.previous, purpose), payload), signature)
        ):
            raise _invalid()
        previous = True
    try:
        issued = datetime.fromtimestamp(int(issued_hex, 16) / 1000, UTC)
        data = _unb64(data_text[1:]) if data_text.startswith("~") else data_text
    except (ValueError, binascii.Error, OverflowError):
        raise _invalid() from None
    _check_age(purpose, issued, when, max_age)
    return Token(purpose, subject, data, issued, previous_key=previous)


def _check_age(purpose: str, issued: datetime, now: datetime, max_age: timedelta | None) -> None:
    age = max_age if max_age is not None else MAX_AGE.get(purpose, DEFAULT_MAX_AGE)
    if now - issued > age:
        raise WebError(
            "this link has expired",
            fix="ask for a new one" if purpose == "confirm" else "use a link from a newer email",
        )


#: Purposes whose links made before public ids keep working (see the module docstring).
LEGACY_PURPOSES = ("unsubscribe", "preferences")


def _read_legacy(
    keys: Keys, purpose: str, token: str, now: datetime, max_age: timedelta | None
) -> Token:
    """An itsdangerous ``TimestampSigner`` token: ``<row id>[-<edition>].<ts>.<sig>``."""
    if purpose not in LEGACY_PURPOSES:
        raise _invalid()
    from itsdangerous import BadSignature, TimestampSigner

    secrets_ = [keys.current] + ([keys.previous] if keys.accepts_previous(now) else [])
    for secret in secrets_:
        signer = TimestampSigner(secret, salt=f"newsletter.{purpose}")
        try:
            raw, stamp = signer.unsign(token, return_timestamp=True)
        except BadSignature:
            continue
        row_id, _, edition = raw.decode("ascii", "replace").partition("-")
        if not row_id.isdigit() or (edition and not edition.isdigit()):
            raise _invalid()
        _check_age(purpose, stamp, now, max_age)
        return Token(
            purpose, "", edition, stamp, legacy_id=int(row_id), previous_key=secret != keys.current
        )
    raise _invalid()


def link(base_url: str, purpose: str, token: str) -> str:
    """The public URL for a token: /confirm/T, /unsubscribe/T or /preferences/T."""
    return f"{base_url.rstrip('/')}/{purpose}/{token}"
