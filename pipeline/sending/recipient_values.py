"""Per-recipient values for the personalisation slots (``pipeline.render.personalise.FIELDS``).

Two signed tokens per recipient (one HMAC each, keys derived once per process, the rest
once per edition in a :class:`RecipientValues`), so this stays cheap at a million rows.
Tokens carry the subscriber's random ``public_id``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pipeline.config import Settings
from pipeline.subscribers.names import display_name
from pipeline.tokens import check_subject, issued_hex, signer

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
    if not name.isascii() and _FAMILY_FIRST.search(name):  # no CJK script is ASCII
        return " ".join(name.split())
    parts = name.split()
    return parts[0] if parts else ""


class RecipientValues:
    """:func:`recipient_values` for the recipients of one edition: the key, the base URL,
    the two signers and the URL prefixes are looked up once, and a recipient's two tokens
    share one check of the public id and one issue time (the values are those of the
    function, which uses one of these: a test compares them with the tokens' own
    ``make_token``)."""

    __slots__ = ("_preferences", "_preferences_url", "_unsubscribe", "_unsubscribe_url", "_web")

    def __init__(self, secret: str, base_url: str, edition_id: int | None, web: str) -> None:
        base = base_url.rstrip("/")
        self._unsubscribe = signer(secret, "unsubscribe", "" if edition_id is None else edition_id)
        self._preferences = signer(secret, "preferences")
        self._unsubscribe_url = f"{base}/unsubscribe/"
        self._preferences_url = f"{base}/preferences/"
        self._web = web

    def __call__(
        self,
        public_id: str,
        email: str,
        name: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        name = display_name(name)
        check_subject(public_id)
        issued = issued_hex()
        values = {
            "first_name": first_name(name, display_name(str(attributes.get("given_name") or "")))
            if attributes
            else first_name(name),
            "name": name,
            "email": email,
            "unsubscribe_url": self._unsubscribe_url + self._unsubscribe.token(public_id, issued),
            "preferences_url": self._preferences_url + self._preferences.token(public_id, issued),
            "web_url": self._web,
        }
        if attributes:  # custom fields (text attributes); the built-ins above win a clash
            custom = {k: v for k, v in attributes.items() if isinstance(v, str) and k not in values}
            return {**custom, **values}
        return values


@lru_cache(maxsize=64)
def values_for(secret: str, base_url: str, edition_id: int | None, web: str) -> RecipientValues:
    """The :class:`RecipientValues` of an edition, made once per process."""
    return RecipientValues(secret, base_url, edition_id, web)


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
    # secrets.secret_key is keys.current, without building Keys for each recipient
    make = values_for(settings.secrets.secret_key, settings.newsletter.base_url, edition_id, web)
    return make(public_id, email, name, attributes)
