"""Per-recipient values for the personalisation slots (``pipeline.render.personalise.FIELDS``).

Two signed tokens per recipient (one HMAC each, keys derived once per process), so this
stays cheap at a million rows. Tokens carry the subscriber's random ``public_id``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline.config import Settings
from pipeline.subscribers.names import display_name
from pipeline.tokens import signer

#: The subject of a test copy's links (no subscriber has it: public ids are 32 hex digits).
TEST_COPY = "test-copy"


def web_url(settings: Settings, slug: str) -> str:
    """The public web version of an edition (served by the archive)."""
    return f"{settings.newsletter.base_url}/archive/{slug}"


# Scripts whose names are written family name first (Japanese, Chinese, Korean): their first
# word is the family name, not what a greeting wants.
_FAMILY_FIRST = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def first_name(name: str, given_name: str = "") -> str:
    """What a greeting calls the person: the given name where one is known (the
    ``given_name`` attribute, e.g. an import's "First name" column); else the first word of
    the name, or the whole name when it is written family name first (山田 太郎)."""
    if given_name.strip():
        return given_name.strip()
    if _FAMILY_FIRST.search(name):
        return " ".join(name.split())
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
    and their custom fields (text attributes, e.g. skin_type); built-ins win a clash.

    ``name`` and ``first_name`` are the name as an email may show it
    (``subscribers.names.display_name``: empty when it looks like a link or an address);
    callers put ``values["name"]`` in the To header too, so one rule decides both."""
    name = display_name(name)
    secret = settings.keys.current
    base = settings.newsletter.base_url.rstrip("/")
    edition = "" if edition_id is None else edition_id
    unsubscribe = signer(secret, "unsubscribe", edition)(public_id)
    preferences = signer(secret, "preferences")(public_id)
    values = {
        "first_name": first_name(name, display_name(str(attributes.get("given_name") or "")))
        if attributes
        else first_name(name),
        "name": name,
        "email": email,
        "unsubscribe_url": f"{base}/unsubscribe/{unsubscribe}",
        "preferences_url": f"{base}/preferences/{preferences}",
        "web_url": web,
    }
    if attributes:  # custom fields (text attributes); the built-ins above win a clash
        custom = {k: v for k, v in attributes.items() if isinstance(v, str) and k not in values}
        return {**custom, **values}
    return values
