"""International addresses on the wire: IDNA domains and UTF-8 local parts.

The subscribers table keeps an address as it was given (``kunde@bücher.example.org``,
``jürgen@example.de``). On the wire:

* a non-ASCII *domain* is written in its ASCII (IDNA, ``xn--``) form, which every relay and
  SendGrid accept: ``kunde@xn--bcher-kva.example.org``;
* a non-ASCII *local part* has no ASCII form. SMTP carries it only when the relay offers
  the SMTPUTF8 extension (RFC 6531); SendGrid does not take it. Such a recipient fails
  alone, with a reason, and the rest of the send goes on.
"""

from __future__ import annotations

from pipeline.errors import PersonalisationError


def wire_address(email: str) -> str:
    """``email`` with its domain in IDNA (ASCII) form; PersonalisationError when the domain
    has no IDNA form (an empty label, a label over 63 characters, a forbidden character)."""
    local, at, domain = email.rpartition("@")
    if not at or domain.isascii():
        return email
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise PersonalisationError(
            f"the domain of {email!r} cannot be written in ASCII (IDNA): {exc}",
            fix="correct the subscriber's address",
        ) from None
    return f"{local}@{ascii_domain}"


def needs_smtputf8(email: str) -> bool:
    """True when the address (after ``wire_address``) still holds non-ASCII characters, so
    only a relay offering SMTPUTF8 can carry it."""
    return not email.isascii()
