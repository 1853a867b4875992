"""Per-recipient values for the personalisation slots (``pipeline.render.personalise.FIELDS``).

Two signed tokens per recipient (one HMAC each, keys derived once per process), so this
stays cheap at a million rows. Tokens carry the subscriber's random ``public_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.config import Settings
from pipeline.tokens import link, make_token

#: The subject of a test copy's links (no subscriber has it: public ids are 32 hex digits).
TEST_COPY = "test-copy"


def web_url(settings: Settings, slug: str) -> str:
    """The public web version of an edition (served by the archive)."""
    return f"{settings.newsletter.base_url}/archive/{slug}"


def first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else ""


def recipient_values(
    settings: Settings,
    public_id: str,
    email: str,
    name: str,
    edition_id: int | None = None,
    *,
    web: str = "",
    attributes: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """first_name, name, email, unsubscribe_url, preferences_url, web_url for one person,
    and their custom fields (text attributes, e.g. skin_type); built-ins win a clash."""
    keys = settings.keys
    base = settings.newsletter.base_url
    edition = "" if edition_id is None else edition_id
    custom = {k: v for k, v in (attributes or {}).items() if isinstance(v, str)}
    return {
        **custom,
        "first_name": first_name(name),
        "name": name,
        "email": email,
        "unsubscribe_url": link(
            base, "unsubscribe", make_token(keys, "unsubscribe", public_id, edition)
        ),
        "preferences_url": link(base, "preferences", make_token(keys, "preferences", public_id)),
        "web_url": web,
    }
