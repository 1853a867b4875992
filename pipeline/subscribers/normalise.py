"""Email address validation and normalisation: one address, one spelling.

Decision: the whole address is lower-cased, the local part included. RFC 5321 allows a
mail server to treat ``Ann@example.com`` and ``ann@example.com`` as two mailboxes, but no
mainstream provider does, and a newsletter that keeps both would mail the same person twice
and could not honour an unsubscribe sent from the other spelling. So "the same address in
another case is the same subscriber": we store and compare the lower-cased form.

Syntax is checked with ``email-validator`` in strict mode (no DNS unless asked; quoted
local parts, "Name <address>" and domain literals are refused). A fast path handles the
common plain ASCII address (``name.part+tag@example.com``) with a regular expression that
accepts only what email-validator accepts, with the same result (the address corpora in
tests/data and a property test check this; the domain checks are cached, as the addresses
of a list share a few domains); anything unusual goes through email-validator itself.
Spaces and tabs around the address are removed (spreadsheets add them); CR, LF and other
control characters are always rejected.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES as _SPECIAL_USE
from email_validator import EmailNotValidError, caching_resolver, validate_email

from pipeline.errors import SubscriberError

MAX_LENGTH = 254

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST = re.compile(
    rf"(?P<local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<domain>(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z])?)"
)
assert _FAST.groups == 2  # local, domain (_fast reads them with groups())
# Special-use names (RFC 6761 and friends) that email-validator refuses; all are top-level.
_SPECIAL = frozenset(_SPECIAL_USE)
assert all("." not in name for name in _SPECIAL)


def shown(address: str, limit: int = 80) -> str:
    """``address`` quoted for a message, cut short when it is very long."""
    return repr(address if len(address) <= limit else address[:limit] + "…")


def _fast(address: str) -> str | None:
    """The normalised form of a plain ASCII address, or None to ask email-validator."""
    if len(address) > MAX_LENGTH:
        return None
    match = _FAST.fullmatch(address)
    if match is None:
        return None
    local, domain = match.groups()  # (the pattern's only two groups)
    if len(local) > 64 or _fast_domain(domain) is None:
        return None
    return address.lower()  # all ASCII: the lower-case local part, @, the domain


@lru_cache(maxsize=4096)
def _fast_domain(domain: str) -> str | None:
    """The lower-case form of a domain the fast pattern matched, or None when only
    email-validator may judge it (cached: a list's addresses share a few domains)."""
    lowered = domain.lower()
    if "--" in lowered or lowered[lowered.rfind(".") + 1 :] in _SPECIAL:
        return None
    return lowered


@cache
def _resolver() -> Any:
    return caching_resolver(timeout=10)


def _validate(address: str, check_dns: bool) -> str:
    try:
        if check_dns:
            result = validate_email(
                address, check_deliverability=True, dns_resolver=_resolver(), strict=True
            )
        else:
            result = validate_email(address, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        raise SubscriberError(f"{shown(address)} is not a valid email address: {exc}") from None
    return str(result.normalized)


def normalise_email(address: str, *, check_dns: bool = False) -> str:
    """The normalised form of ``address`` (lower-cased), or SubscriberError saying why not.

    ``check_dns`` also asks DNS whether the domain accepts mail (slow; cached per domain).
    """
    if not isinstance(address, str):
        raise SubscriberError(f"{address!r} is not a valid email address: not text")
    stripped = address.strip(" \t")
    if not stripped:
        raise SubscriberError("the email address is empty")
    if not check_dns:
        quick = _fast(stripped)
        if quick is not None:
            return quick
    return _full(stripped, check_dns)


def _full(address: str, check_dns: bool) -> str:
    """``normalise_email`` through email-validator alone (what the fast path must agree
    with: tests/subscribers/test_normalise.py)."""
    validated = _validate(address, check_dns)
    normalised = validated.lower()
    if normalised != validated and not normalised.isascii():
        # Lower-casing non-ASCII text can change its Unicode normal form ('İ' -> 'i̇');
        # validate once more so that the stored form is itself a valid, stable address.
        normalised = unicodedata.normalize("NFC", normalised)
        again = _validate(normalised, False).lower()
        if again != normalised:
            raise SubscriberError(
                f"{shown(address)} is not a valid email address: it has no stable lower-case form"
            )
    return normalised


def is_valid_email(address: str) -> bool:
    try:
        normalise_email(address)
    except SubscriberError:
        return False
    return True
