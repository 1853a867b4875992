"""Custom fields on the signup form ([[audience.signup_fields]]): a visible menu (skin type)
and a hidden field (where the reader came from)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.subscribers.service import get_subscriber
from tests.web.helpers import other_server, person, signup

FIELDS = [
    {"name": "skin_type", "label": "Skin type", "choices": ["oily", "dry", "combination"]},
    {"name": "source", "hidden": True, "value": "spring-campaign"},
]


def test_signup_fields_are_shown_checked_and_stored(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    overrides: dict[str, Any] = {"audience.signup_fields": FIELDS}
    with other_server(make_settings, db_url, engine, **overrides) as s, s.client() as client:
        page = client.get("/subscribe").text
        assert '<label for="field_skin_type">Skin type' in page
        assert '<option value="combination">combination</option>' in page
        assert "spring-campaign" not in page  # hidden: never in the page

        wrong = signup(client, "eve@example.com", field_skin_type="very oily")
        assert wrong.status_code == 422
        assert "Please choose one of: oily, dry, combination." in wrong.text
        assert person(engine, "eve@example.com") == {}

        ok = signup(client, "ann@example.com", field_skin_type="oily", field_evil="x")
        assert ok.status_code == 200
        # Someone else cannot change an existing subscriber's fields from the form.
        again = signup(client, "ann@example.com", field_skin_type="dry")
        assert again.status_code == 200
    assert get_subscriber(engine, email="ann@example.com").attributes == {  # type: ignore[union-attr]
        "skin_type": "oily",
        "source": "spring-campaign",
    }
