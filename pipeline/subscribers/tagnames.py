"""The names of tags and custom fields: pure functions, no database.

Kept apart from ``tags`` (which reads and writes them) so that the import formats, and the
commands that list them in their help, load without SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.errors import SubscriberError

MAX_TAG = 100
_NOT_KEY = re.compile(r"[^a-z0-9_]+")


def normalise_tag(tag: str) -> str:
    """The stored form of a tag: trimmed, lower-case, inner spaces kept single."""
    cleaned = " ".join(tag.split()).lower()
    if not cleaned or len(cleaned) > MAX_TAG or any(c in cleaned for c in ",\"'"):
        raise SubscriberError(
            f"{tag!r} is not a usable tag",
            fix=f"use 1 to {MAX_TAG} characters without commas or quotes, e.g. oily-skin",
        )
    return cleaned


def split_tags(value: str | Iterable[str]) -> list[str]:
    """Tags from an import cell (``"vip", "oily skin"`` as Mailchimp writes them, or a
    comma-separated list) or a list; empty pieces dropped, duplicates once, order kept."""
    pieces = value.split(",") if isinstance(value, str) else list(value)
    found: list[str] = []
    for piece in pieces:
        cleaned = str(piece).strip().strip("\"'").strip()
        if cleaned:
            tag = normalise_tag(cleaned)
            if tag not in found:
                found.append(tag)
    return found


def field_key(name: str) -> str:
    """The stored name of a custom field: 'Skin Type' -> 'skin_type'."""
    return _NOT_KEY.sub("_", name.strip().lower()).strip("_")[:64] or "field"
