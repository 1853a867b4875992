"""The CSV formats we import, recognised from the header row (or named with --format).

Each format turns one CSV row (a dict keyed by the lower-cased header) into an ``Entry``:
what the row asks for (subscribe, or suppress the address), with the consent facts the file
holds. Header names are compared without case and surrounding spaces.

=========== ======================================================================
newsletter  our own export: email, name, list, status, consent_*, confirm_*,
            unsubscribed_at, subscriber_status, created_at, attributes (JSON)
mailchimp   "Email Address", "First Name", "Last Name", OPTIN_TIME, OPTIN_IP,
            CONFIRM_TIME, CONFIRM_IP, TAGS, ...; UNSUB_TIME marks the unsubscribed
            export, CLEAN_TIME the cleaned one
ghost       email, name, note, subscribed_to_emails, labels, created_at, deleted_at, ...
substack    email, active_subscription, expiry, plan, email_disabled, created_at
listmonk    email, name, attributes (JSON object), status (enabled/blocklisted), ...
plain       email, optional name, lists ("a;b"), tags ("a, b"), status, consent_at, consent_ip;
            other columns are kept as attributes
=========== ======================================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pipeline.errors import SubscriberError
from pipeline.subscribers.tagnames import field_key, split_tags

FORMATS = ("plain", "mailchimp", "ghost", "substack", "listmonk", "newsletter")

# Column names tried, in order, for the address in a file of unknown format.
EMAIL_COLUMNS = ("email", "email address", "e-mail", "email_address")


class RowError(Exception):
    """This row cannot be imported; ``str()`` is the reason written to the rejects file."""


@dataclass(slots=True)
class Entry:
    """What one row asks for."""

    email: str  # as written in the file (normalised later)
    name: str | None = None  # None: the file says nothing about the name
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()  # added to the subscriber's tags (normalised)
    lists: tuple[str, ...] | None = None  # None: the lists given to the import
    status: str | None = None  # confirmed | unconfirmed | unsubscribed; None: the default
    suppress: str | None = None  # suppress the address with this reason instead
    consent_at: datetime | None = None
    consent_ip: str | None = None
    confirmed_at: datetime | None = None
    confirm_ip: str | None = None
    unsubscribed_at: datetime | None = None
    consent_method: str | None = None  # newsletter format only: restore as exported
    consent_text: str | None = None
    created_at: datetime | None = None


Row = Mapping[str, str]

_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f", ""}
STATUS_WORDS: dict[str, tuple[str | None, str | None]] = {
    # word -> (subscription status, suppression reason)
    "": (None, None),
    "subscribed": ("confirmed", None),
    "confirmed": ("confirmed", None),
    "active": ("confirmed", None),
    "enabled": ("confirmed", None),
    "unconfirmed": ("unconfirmed", None),
    "pending": ("unconfirmed", None),
    "unsubscribed": (None, "unsubscribed"),
    "blocklisted": (None, "unsubscribed"),
    "cleaned": (None, "bounced"),
    "bounced": (None, "bounced"),
    "complained": (None, "complained"),
    "disabled": (None, "manual"),
}


def parse_time(value: str, column: str) -> datetime | None:
    """An ISO-8601-ish date and time (naive means UTC), or None for an empty cell."""
    text = value.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RowError(
            f"{column} {text[:40]!r} is not a date and time (use e.g. 2024-05-01 09:30:00)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def parse_bool(value: str, column: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowError(f"{column} {value[:40]!r} is not true or false")


def parse_status(value: str, column: str = "status") -> tuple[str | None, str | None]:
    word = value.strip().lower()
    if word not in STATUS_WORDS:
        raise RowError(
            f"unknown {column} {value[:40]!r} (expected subscribed, unconfirmed,"
            " unsubscribed, cleaned, bounced or complained)"
        )
    return STATUS_WORDS[word]


def parse_json_object(value: str, column: str) -> dict[str, Any]:
    text = value.strip()
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise RowError(f"{column} is not valid JSON") from None
    if not isinstance(data, dict):
        raise RowError(f'{column} is not a JSON object like {{"city": "Leeds"}}')
    return data


@lru_cache(maxsize=1024)
def split_list(value: str) -> tuple[str, ...]:
    """'a; b,c' -> ('a', 'b', 'c') (cached: the same few values repeat on every row)."""
    return tuple(part.strip() for part in value.replace(",", ";").split(";") if part.strip())


def _ip(value: str) -> str | None:
    return value.strip()[:64] or None


def _rest(row: Row, skip: set[str]) -> dict[str, Any]:
    """Columns not otherwise used, kept as custom fields (non-empty values only) under
    their field names ('Skin Type' -> 'skin_type', usable as recipient('skin_type'))."""
    return {field_key(k): row[k] for k in row.keys() - skip if k and row[k].strip()}


def _tags(value: str, column: str) -> tuple[str, ...]:
    try:
        return tuple(split_tags(value))
    except SubscriberError as exc:
        raise RowError(f"{column}: {exc.what}") from None


# ---- the formats -----------------------------------------------------------------------
def _plain(row: Row) -> Entry:
    # (Written for speed: this runs for every row of million-row files.)
    status_text = row.get("status")
    status, suppress = parse_status(status_text) if status_text else (None, None)
    name = row.get("name")
    if name is None and ("first name" in row or "last name" in row):
        name = f"{row.get('first name', '').strip()} {row.get('last name', '').strip()}"
    lists_text = row.get("lists")
    consent_text = row.get("consent_at")
    ip_text = row.get("consent_ip")
    tags_text = row.get("tags")
    return Entry(
        email=row["email"],
        name=name.strip() if name is not None else None,
        attributes=_rest(row, PLAIN_COLUMNS),
        tags=_tags(tags_text, "tags") if tags_text else (),
        lists=split_list(lists_text) if lists_text and lists_text.strip() else None,
        status=status,
        suppress=suppress,
        consent_at=parse_time(consent_text, "consent_at") if consent_text else None,
        consent_ip=_ip(ip_text) if ip_text else None,
    )


PLAIN_COLUMNS = {
    "email", "name", "first name", "last name", "lists", "status", "consent_at", "consent_ip",
    "tags",
}  # fmt: skip

MAILCHIMP_SKIP = {
    "email address", "first name", "last name", "member_rating", "optin_time", "optin_ip",
    "confirm_time", "confirm_ip", "latitude", "longitude", "gmtoff", "dstoff", "timezone",
    "cc", "region", "last_changed", "leid", "euid", "notes", "tags", "unsub_time",
    "unsub_campaign_title", "unsub_campaign_id", "unsub_reason", "unsub_reason_other",
    "clean_time", "clean_campaign_title", "clean_campaign_id",
}  # fmt: skip


def _mailchimp(row: Row) -> Entry:
    name = f"{row.get('first name', '').strip()} {row.get('last name', '').strip()}".strip()
    attributes = _rest(row, MAILCHIMP_SKIP)
    # Mailchimp's CC is the country code and TIMEZONE an IANA zone: both kept as fields.
    for column, key in (("cc", "country"), ("timezone", "timezone")):
        if row.get(column, "").strip():
            attributes[key] = row[column].strip()
    suppress = None
    if "unsub_time" in row:
        suppress = "unsubscribed"
    elif "clean_time" in row:
        suppress = "bounced"
    return Entry(
        email=row["email address"],
        name=name,
        attributes=attributes,
        tags=_tags(row.get("tags", ""), "TAGS"),
        status="confirmed",
        suppress=suppress,
        consent_at=parse_time(row.get("optin_time", ""), "OPTIN_TIME"),
        consent_ip=_ip(row.get("optin_ip", "")),
        confirmed_at=parse_time(row.get("confirm_time", ""), "CONFIRM_TIME"),
        confirm_ip=_ip(row.get("confirm_ip", "")),
    )


GHOST_SKIP = {
    "id", "email", "name", "note", "subscribed_to_emails", "created_at", "deleted_at",
    "labels", "complimentary_plan", "stripe_customer_id", "tiers", "subscribed",
}  # fmt: skip


def _ghost(row: Row) -> Entry:
    if row.get("deleted_at", "").strip():
        raise RowError("the member was deleted in Ghost (deleted_at is set)")
    column = "subscribed_to_emails" if "subscribed_to_emails" in row else "subscribed"
    subscribed = parse_bool(row.get(column, "true"), column)
    attributes = _rest(row, GHOST_SKIP)
    if row.get("note", "").strip():
        attributes["note"] = row["note"].strip()
    for key in ("complimentary_plan", "tiers"):
        if row.get(key, "").strip():
            attributes[key] = row[key].strip()
    return Entry(
        email=row["email"],
        name=row.get("name", "").strip(),
        attributes=attributes,
        tags=_tags(row.get("labels", ""), "labels"),
        status="confirmed",
        suppress=None if subscribed else "unsubscribed",
        consent_at=parse_time(row.get("created_at", ""), "created_at"),
    )


SUBSTACK_SKIP = {"email", "name", "email_disabled", "created_at", "subscription_created_at"}


def _substack(row: Row) -> Entry:
    disabled = parse_bool(row.get("email_disabled", ""), "email_disabled")
    created = row.get("created_at") or row.get("subscription_created_at") or ""
    return Entry(
        email=row["email"],
        name=row.get("name", "").strip() if "name" in row else None,
        attributes=_rest(row, SUBSTACK_SKIP),
        status="confirmed",
        suppress="unsubscribed" if disabled else None,
        consent_at=parse_time(created, "created_at"),
    )


LISTMONK_SKIP = {"uuid", "email", "name", "attributes", "status", "created_at", "updated_at"}


def _listmonk(row: Row) -> Entry:
    status, suppress = parse_status(row.get("status", ""))
    return Entry(
        email=row["email"],
        name=row.get("name", "").strip(),
        attributes={
            **_rest(row, LISTMONK_SKIP),
            **parse_json_object(row.get("attributes", ""), "attributes"),
        },
        status=status,
        suppress=suppress,
        consent_at=parse_time(row.get("created_at", ""), "created_at"),
    )


NEWSLETTER_COLUMNS = (
    "email", "name", "list", "status", "consent_at", "consent_method", "consent_text",
    "consent_ip", "confirmed_at", "confirm_ip", "unsubscribed_at", "subscriber_status",
    "created_at", "attributes",
)  # fmt: skip


def _newsletter(row: Row) -> Entry:
    status = row.get("status", "").strip().lower()
    if status not in ("", "confirmed", "unconfirmed", "unsubscribed"):
        raise RowError(
            f"unknown status {status[:40]!r} (expected confirmed, unconfirmed or unsubscribed)"
        )
    subscriber_status = row.get("subscriber_status", "").strip().lower() or "active"
    reasons = {
        "active": None,
        "unsubscribed": "unsubscribed",
        "bounced": "bounced",
        "complained": "complained",
    }
    if subscriber_status not in reasons:
        raise RowError(f"unknown subscriber_status {subscriber_status[:40]!r}")
    slug = row.get("list", "").strip()
    return Entry(
        email=row["email"],
        name=row.get("name", ""),
        attributes=parse_json_object(row.get("attributes", ""), "attributes"),
        lists=(slug,) if slug else (),
        status=status or None,
        suppress=reasons[subscriber_status],
        consent_at=parse_time(row.get("consent_at", ""), "consent_at"),
        consent_ip=_ip(row.get("consent_ip", "")),
        confirmed_at=parse_time(row.get("confirmed_at", ""), "confirmed_at"),
        confirm_ip=_ip(row.get("confirm_ip", "")),
        unsubscribed_at=parse_time(row.get("unsubscribed_at", ""), "unsubscribed_at"),
        consent_method=row.get("consent_method", "").strip()[:20] or None,
        consent_text=row.get("consent_text", ""),
        created_at=parse_time(row.get("created_at", ""), "created_at"),
    )


@dataclass(frozen=True)
class Format:
    name: str
    email_column: str
    convert: Callable[[Row], Entry]
    # the lower-cased headers that identify it (all must be present)
    marks: tuple[str, ...]
    key_by_list: bool = False  # one row per (address, list) rather than per address
    has_lists: bool = False  # rows may name their lists


REGISTRY: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "newsletter",
            "email",
            _newsletter,
            ("email", "list", "subscriber_status"),
            key_by_list=True,
            has_lists=True,
        ),
        Format("mailchimp", "email address", _mailchimp, ("email address",)),
        Format("ghost", "email", _ghost, ("email", "subscribed_to_emails")),
        Format("substack", "email", _substack, ("email", "active_subscription")),
        Format("listmonk", "email", _listmonk, ("email", "attributes")),
        Format("plain", "email", _plain, ("email",), has_lists=True),
    )
}

# Header rows shown in the documentation and in the "no email column" error.
EXPECTED = 'email (plain, listmonk, Ghost, Substack) or "Email Address" (Mailchimp)'


def recognisable(header: list[str]) -> bool:
    lowered = {h.strip().lower() for h in header}
    return bool(lowered & {"email", "email address"})


def detect_format(header: list[str], forced: str | None = None) -> Format:
    """The format of a file from its header row; SubscriberError when there is no email
    column (the message lists the headers found and those expected)."""
    lowered = [h.strip().lower() for h in header]
    present = set(lowered)
    if forced is not None:
        if forced not in REGISTRY:
            raise SubscriberError(
                f"unknown format {forced!r}", fix="use one of " + ", ".join(FORMATS)
            )
        fmt = REGISTRY[forced]
        if fmt.email_column not in present:
            raise SubscriberError(
                f"no {fmt.email_column!r} column for the {forced} format; headers found: "
                + _shown(header),
                fix=f"expected {EXPECTED}",
            )
        return fmt
    for fmt in REGISTRY.values():
        if all(mark in present for mark in fmt.marks):
            return fmt
    raise SubscriberError(
        "no email column; headers found: " + _shown(header),
        fix=f"expected {EXPECTED}; rename the column or name the format with --format",
    )


def _shown(header: list[str]) -> str:
    if not header or header == [""]:
        return "(none: the file is empty)"
    names = [h if len(h) <= 40 else h[:40] + "…" for h in header[:20]]
    more = f" and {len(header) - 20} more" if len(header) > 20 else ""
    return ", ".join(repr(n) for n in names) + more
