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
buttondown  email, subscriber_type or type (regular, premium, unactivated,
            unsubscribed, undeliverable, ...), creation_date, notes, metadata, tags
plain       email, optional name, lists ("a;b"), tags ("a, b"), status, consent_at, consent_ip;
            other columns are kept as attributes
=========== ======================================================================

A column that looks like a subscription status but that the format does not read (e.g.
``subscriber_type`` in a file read as plain) stops the import with how to map it: it is
never ignored, which would import every row as subscribed. A row with a single column in
a file with several is rejected. Dates are ISO 8601, or ``M/D/YYYY`` (US exports; a first
number above 12 reads as ``D/M/YYYY``), or ``May 1, 2024``; slash dates that could be read
both ways are read the US way and counted in ``ambiguous_dates`` for the report. A row
whose notes or unsubscribe reason say it was an abuse or spam complaint is suppressed as
``complained`` (which no resubscribe undoes), not as ``unsubscribed``.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pipeline.csvcells import unescape_cell
from pipeline.errors import SubscriberError
from pipeline.subscribers.tagnames import field_key, split_tags

FORMATS = ("plain", "mailchimp", "ghost", "substack", "listmonk", "buttondown", "newsletter")

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


#: Slash dates read month-first although day-first was possible too, in the current import
#: (set by the importer; None outside an import).
ambiguous_dates: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "ambiguous_dates", default=None
)
_SLASH = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_WORDY = re.compile(r"([A-Za-z]{3})[a-z]*\.? (\d{1,2}),? (\d{4})(?:[ T,]+(\d{1,2}):(\d{2}))?")


def _slash_date(match: re.Match[str], text: str) -> datetime:
    first, second, year = int(match[1]), int(match[2]), int(match[3])
    month, day = (first, second) if first <= 12 else (second, first)
    if first <= 12 and second <= 12 and first != second:
        notes = ambiguous_dates.get()
        if notes is not None:
            notes.append(text)
    hour, minute, sec = int(match[4] or 0), int(match[5] or 0), int(match[6] or 0)
    if match[7]:
        if hour > 12:
            raise ValueError("hour above 12 with AM/PM")
        hour = hour % 12 + (12 if match[7].lower() == "pm" else 0)
    return datetime(year, month, day, hour, minute, sec)


def parse_time(value: str, column: str) -> datetime | None:
    """A date and time (naive means UTC), or None for an empty cell: ISO 8601, US
    ``M/D/YYYY [h:mm[:ss] [AM|PM]]`` (``D/M/YYYY`` when the first number is above 12), or
    ``May 1, 2024 [h:mm]``."""
    text = value.strip()
    if not text:
        return None
    try:
        if (match := _SLASH.fullmatch(text)) is not None:
            when = _slash_date(match, text)
        elif (wordy := _WORDY.fullmatch(text)) is not None and wordy[1].lower() in _MONTHS:
            when = datetime(
                int(wordy[3]),
                _MONTHS[wordy[1].lower()],
                int(wordy[2]),
                int(wordy[4] or 0),
                int(wordy[5] or 0),
            )
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RowError(
            f"{column} {text[:40]!r} is not a date and time (use e.g. 2024-05-01 09:30:00,"
            " or 5/1/2024 9:30 AM)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


_COMPLAINT = re.compile(r"abuse|complain|spam", re.IGNORECASE)


def is_complaint(*notes: str) -> bool:
    """True when a note or an unsubscribe reason says the person complained (abuse or
    spam report)."""
    return any(_COMPLAINT.search(n) for n in notes if n)


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


def _rest(row: Row, skip: frozenset[str]) -> dict[str, Any]:
    """Columns not otherwise used, kept as custom fields (non-empty values only) under
    their field names ('Skin Type' -> 'skin_type', usable as recipient('skin_type'))."""
    return {key: row[k] for k, key in _others(tuple(row), skip) if row[k].strip()}


@lru_cache(maxsize=256)
def _others(columns: tuple[str, ...], skip: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(column, field name) of the named ``columns`` not in ``skip``, in their order
    (cached: every row of a file has the same columns)."""
    return tuple((k, field_key(k)) for k in columns if k and k not in skip)


def _tags(value: str, column: str) -> tuple[str, ...]:
    try:
        return tuple(split_tags(value))
    except SubscriberError as exc:
        raise RowError(f"{column}: {exc.what}") from None


def _with_given_name(attributes: dict[str, Any], row: Row) -> dict[str, Any]:
    """Keep a "First name" column as the ``given_name`` attribute: greetings use it, as the
    first word of the full name is the family name in names written family name first."""
    given = row.get("first name", "").strip()
    if given:
        attributes["given_name"] = given
    return attributes


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
        attributes=_with_given_name(_rest(row, PLAIN_COLUMNS), row),
        tags=_tags(tags_text, "tags") if tags_text else (),
        lists=split_list(lists_text) if lists_text and lists_text.strip() else None,
        status=status,
        suppress=suppress,
        consent_at=parse_time(consent_text, "consent_at") if consent_text else None,
        consent_ip=_ip(ip_text) if ip_text else None,
    )


PLAIN_COLUMNS = frozenset({
    "email", "name", "first name", "last name", "lists", "status", "consent_at", "consent_ip",
    "tags",
})  # fmt: skip

MAILCHIMP_SKIP = frozenset({
    "email address", "first name", "last name", "member_rating", "optin_time", "optin_ip",
    "confirm_time", "confirm_ip", "latitude", "longitude", "gmtoff", "dstoff", "timezone",
    "cc", "region", "last_changed", "leid", "euid", "notes", "tags", "unsub_time",
    "unsub_campaign_title", "unsub_campaign_id", "unsub_reason", "unsub_reason_other",
    "clean_time", "clean_campaign_title", "clean_campaign_id",
})  # fmt: skip


def _mailchimp(row: Row) -> Entry:
    name = f"{row.get('first name', '').strip()} {row.get('last name', '').strip()}".strip()
    attributes = _with_given_name(_rest(row, MAILCHIMP_SKIP), row)
    # Mailchimp's CC is the country code and TIMEZONE an IANA zone: both kept as fields.
    for column, key in (("cc", "country"), ("timezone", "timezone")):
        if row.get(column, "").strip():
            attributes[key] = row[column].strip()
    suppress = None
    if "unsub_time" in row:
        reasons = (row.get("unsub_reason", ""), row.get("unsub_reason_other", ""))
        suppress = "complained" if is_complaint(*reasons, row.get("notes", "")) else "unsubscribed"
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


GHOST_SKIP = frozenset({
    "id", "email", "name", "note", "subscribed_to_emails", "created_at", "deleted_at",
    "labels", "complimentary_plan", "stripe_customer_id", "tiers", "subscribed",
})  # fmt: skip


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
        suppress=None
        if subscribed
        else ("complained" if is_complaint(row.get("note", "")) else "unsubscribed"),
        consent_at=parse_time(row.get("created_at", ""), "created_at"),
    )


SUBSTACK_SKIP = frozenset(
    {"email", "name", "email_disabled", "created_at", "subscription_created_at"}
)


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


LISTMONK_SKIP = frozenset(
    {"uuid", "email", "name", "attributes", "status", "created_at", "updated_at"}
)


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


# Buttondown's subscriber types -> (subscription status, suppression reason).
BUTTONDOWN_TYPES: dict[str, tuple[str | None, str | None]] = {
    "regular": ("confirmed", None),
    "premium": ("confirmed", None),
    "gifted": ("confirmed", None),
    "trialed": ("confirmed", None),
    "churning": ("confirmed", None),
    "past_due": ("confirmed", None),
    "paused": ("confirmed", None),
    "unactivated": ("unconfirmed", None),
    "unpaid": ("unconfirmed", None),
    "unsubscribed": (None, "unsubscribed"),
    "undeliverable": (None, "bounced"),
    "complained": (None, "complained"),
    "spammy": (None, "manual"),
    "removed": (None, "manual"),
    "blocked": (None, "manual"),
}
BUTTONDOWN_SKIP = frozenset({
    "id", "email", "subscriber_type", "type", "creation_date", "notes", "metadata", "tags",
})  # fmt: skip


def _buttondown(row: Row) -> Entry:
    column = "subscriber_type" if "subscriber_type" in row else "type"
    kind = row.get(column, "").strip().lower()
    if kind not in BUTTONDOWN_TYPES:
        raise RowError(
            f"unknown Buttondown {column} {kind[:40]!r} (known: "
            + ", ".join(BUTTONDOWN_TYPES)
            + "); change it to one of these to import the row"
        )
    status, suppress = BUTTONDOWN_TYPES[kind]
    notes = row.get("notes", "").strip()
    if suppress == "unsubscribed" and is_complaint(notes):
        suppress = "complained"
    attributes = _rest(row, BUTTONDOWN_SKIP)
    metadata = row.get("metadata", "").strip()
    if metadata and metadata not in ("{}", "null"):
        attributes.update(parse_json_object(metadata, "metadata"))
    if notes:
        attributes["notes"] = notes
    listed = row.get("tags", "").strip().strip("[]")  # "a, b" or "['a', 'b']"
    tags = ",".join(t.strip().strip("'\"") for t in listed.split(",") if t.strip())
    if kind != "regular":
        attributes["buttondown_type"] = kind
    return Entry(
        email=row["email"],
        attributes=attributes,
        tags=_tags(tags, "tags") if tags else (),
        status=status,
        suppress=suppress,
        consent_at=parse_time(row.get("creation_date", ""), "creation_date"),
    )


NEWSLETTER_COLUMNS = (
    "email", "name", "list", "status", "consent_at", "consent_method", "consent_text",
    "consent_ip", "confirmed_at", "confirm_ip", "unsubscribed_at", "subscriber_status",
    "created_at", "attributes",
)  # fmt: skip


def _newsletter(exported: Row) -> Entry:
    # Our exports escape cells a spreadsheet would run as formulas; undo that here.
    row = {k: unescape_cell(v) for k, v in exported.items()}
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
    # also required: at least one of these (e.g. Buttondown's columns vary by version)
    any_of: tuple[str, ...] = ()
    reads: frozenset[str] = frozenset()  # the columns it interprets (not kept as attributes)

    def matches(self, present: set[str]) -> bool:
        return all(m in present for m in self.marks) and (
            not self.any_of or any(m in present for m in self.any_of)
        )


BUTTONDOWN_SUBSCRIBER_TYPE = Format(
    "buttondown",
    "email",
    _buttondown,
    ("email", "subscriber_type"),
    reads=frozenset(BUTTONDOWN_SKIP),
)
BUTTONDOWN = Format(
    "buttondown",
    "email",
    _buttondown,
    ("email", "type"),
    any_of=("creation_date", "notes", "metadata", "referrer_url", "secondary_id"),
    reads=frozenset(BUTTONDOWN_SKIP),
)

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
            reads=frozenset(NEWSLETTER_COLUMNS),
        ),
        Format(
            "mailchimp",
            "email address",
            _mailchimp,
            ("email address",),
            reads=frozenset(MAILCHIMP_SKIP),
        ),
        Format(
            "ghost", "email", _ghost, ("email", "subscribed_to_emails"), reads=frozenset(GHOST_SKIP)
        ),
        Format(
            "substack",
            "email",
            _substack,
            ("email", "active_subscription"),
            reads=frozenset(SUBSTACK_SKIP | {"active_subscription"}),
        ),
        Format(
            "listmonk", "email", _listmonk, ("email", "attributes"), reads=frozenset(LISTMONK_SKIP)
        ),
        BUTTONDOWN,
        Format(
            "plain", "email", _plain, ("email",), has_lists=True, reads=frozenset(PLAIN_COLUMNS)
        ),
    )
}
# The order in which formats are recognised: Buttondown's header varies between export
# versions (``subscriber_type``, or ``type`` beside one of its other columns).
DETECTION: tuple[Format, ...] = (
    *[f for f in REGISTRY.values() if f.name not in ("buttondown", "plain")],
    BUTTONDOWN_SUBSCRIBER_TYPE,
    BUTTONDOWN,
    REGISTRY["plain"],
)

# A column whose name says it holds a subscription status (checked against the columns a
# format reads: an unread one would import every row as subscribed).
_STATUS_LIKE = re.compile(
    r"(^|[ _-])(status|subscribed|unsubscribed|subscription|opt[ _-]?in|optin|active"
    r"|blocked|blocklisted|bounced|suppressed|deleted|enabled|disabled"
    r"|(subscriber|subscription|member|contact|email)[ _-]?(type|state))($|[ _-])"
)
_NOT_STATUS = re.compile(r"(date|time|_at|[ _-]ip|[ _-]id|reason|campaign|title|url|count)$")

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
        check_status_columns(fmt, header)
        return fmt
    for fmt in DETECTION:
        if fmt.matches(present):
            check_status_columns(fmt, header)
            return fmt
    raise SubscriberError(
        "no email column; headers found: " + _shown(header),
        fix=f"expected {EXPECTED}; rename the column or name the format with --format",
    )


def check_status_columns(fmt: Format, header: list[str]) -> None:
    """SubscriberError when a column looks like a subscription status that ``fmt`` does not
    read (its rows would all be imported as subscribed)."""
    for name in header:
        low = name.strip().lower()
        if low in fmt.reads or not _STATUS_LIKE.search(low) or _NOT_STATUS.search(low):
            continue
        raise SubscriberError(
            f"the column {name!r} looks like a subscription status, which the {fmt.name} "
            "format does not read: every row would be imported as subscribed",
            fix="rename it to 'status' with the values subscribed, unconfirmed, "
            "unsubscribed, bounced or complained (one per row), or remove the column if "
            "it means something else; Buttondown exports are read with --format buttondown",
        )


def _shown(header: list[str]) -> str:
    if not header or header == [""]:
        return "(none: the file is empty)"
    names = [h if len(h) <= 40 else h[:40] + "…" for h in header[:20]]
    more = f" and {len(header) - 20} more" if len(header) > 20 else ""
    return ", ".join(repr(n) for n in names) + more
