"""recipient_values: the edition's parts are made once (``RecipientValues``), and every
value is the one made field by field: the names as ``display_name`` and ``first_name``
give them, and two tokens in the documented format (pipeline.tokens), signed with the
purpose's key, that read back. Links sent before keep working: the format is unchanged."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.errors import WebError
from pipeline.sending.recipient_values import (
    RecipientValues,
    first_name,
    recipient_values,
    values_for,
    web_url,
)
from pipeline.subscribers.names import display_name
from pipeline.tokens import read_token

PID = "0123456789abcdef0123456789abcdef"


def _signed(secret: str, purpose: str, payload: str) -> str:
    """The token for ``payload`` as docs/security.md describes it, computed here from
    hmac alone: HMAC-SHA256 under the purpose's derived key, first 128 bits in hex."""
    key = hmac.digest(secret.encode(), b"newsletter.token." + purpose.encode(), "sha256")
    return f"{payload}.{hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]}"


def _expected(
    settings: Settings,
    values: Mapping[str, str],
    email: str,
    name: str,
    edition_id: int | None,
    web: str,
    attributes: Mapping[str, Any] | None,
) -> dict[str, str]:
    """The values one field at a time, the tokens' issue time taken from the token."""
    secret = settings.secrets.secret_key
    base = settings.newsletter.base_url.rstrip("/")
    issued = values["unsubscribe_url"].rsplit("/", 1)[1].split(".")[2]
    data = "" if edition_id is None else str(edition_id)
    shown = display_name(name)
    given = display_name(str((attributes or {}).get("given_name") or ""))
    built = {
        "first_name": first_name(shown, given),
        "name": shown,
        "email": email,
        "unsubscribe_url": f"{base}/unsubscribe/"
        + _signed(secret, "unsubscribe", f"{PID}.{data}.{issued}"),
        "preferences_url": f"{base}/preferences/"
        + _signed(secret, "preferences", f"{PID}..{issued}"),
        "web_url": web,
    }
    custom = {k: v for k, v in (attributes or {}).items() if isinstance(v, str)}
    return {**{k: v for k, v in custom.items() if k not in built}, **built}


@pytest.mark.parametrize(
    ("email", "name", "attributes"),
    [
        ("ann@example.org", "Ann Smith", None),
        ("yamada@example.jp", "山田 太郎", None),
        ("zoe@example.org", "  Zoë   Ă  ", {}),
        ("bob@example.org", "https://evil.example/verify", None),
        ("cy@example.org", "", None),
        (
            "celine@example.org",
            "Céline Dupont",
            {"given_name": " Céline ", "skin_type": "dry", "age": 41, "email": "x@y"},
        ),
        ("dee@example.org", "Dee", {"given_name": "bob@example.com"}),
    ],
)
@pytest.mark.parametrize("edition_id", [7, None])
def test_values_are_those_made_field_by_field(
    file_settings: Settings,
    email: str,
    name: str,
    attributes: dict[str, Any] | None,
    edition_id: int | None,
) -> None:
    web = web_url(file_settings, "2026-12-01-test")
    values = recipient_values(
        file_settings, PID, email, name, edition_id, web=web, attributes=attributes
    )
    assert values == _expected(file_settings, values, email, name, edition_id, web, attributes)
    unsubscribe = read_token(
        file_settings.keys, "unsubscribe", values["unsubscribe_url"].rsplit("/", 1)[1]
    )
    preferences = read_token(
        file_settings.keys, "preferences", values["preferences_url"].rsplit("/", 1)[1]
    )
    assert (unsubscribe.subject, unsubscribe.edition_id) == (PID, edition_id)
    assert (preferences.subject, preferences.data) == (PID, "")
    assert unsubscribe.issued_at == preferences.issued_at  # one issue time per recipient


def test_an_edition_is_prepared_once_per_key_and_base_url(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    first = recipient_values(settings, PID, "a@example.org", "A", 3, web="w")
    again = make_settings()  # the same key and base URL, another Settings object
    made = values_for(again.secrets.secret_key, again.newsletter.base_url, 3, "w")
    assert isinstance(made, RecipientValues)
    assert made is values_for(settings.secrets.secret_key, settings.newsletter.base_url, 3, "w")
    other = make_settings(env={"NEWSLETTER_SECRET_KEY": "another-key-" + "k" * 40})
    second = recipient_values(other, PID, "a@example.org", "A", 3, web="w")
    token, other_token = (v["unsubscribe_url"].rsplit("/", 1)[1] for v in (first, second))
    assert token.split(".")[:2] == other_token.split(".")[:2] == [PID, "3"]
    assert read_token(other.keys, "unsubscribe", other_token).subject == PID  # its own key
    with pytest.raises(WebError):
        read_token(other.keys, "unsubscribe", token)


def test_a_bad_public_id_is_refused_as_before(file_settings: Settings) -> None:
    with pytest.raises(ValueError, match="URL-safe"):
        recipient_values(file_settings, "not.an.id", "a@example.org", "A", 1)
