"""The signup form sends the browser's time zone (static/timezone.js fills a hidden field);
a new subscriber keeps it as their ``timezone`` field, for local-time sending."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from pipeline.store.tables import subscribers
from tests.web.conftest import Server
from tests.web.helpers import signup, solve_altcha


def fields_of(engine: Engine, email: str) -> dict[str, Any]:
    with engine.connect() as conn:
        found = conn.execute(
            select(subscribers.c.attributes).where(subscribers.c.email == email)
        ).scalar_one()
    return dict(found or {})


def test_the_form_keeps_a_known_zone_and_drops_anything_else(server: Server) -> None:
    with server.client() as client:
        page = client.get("/subscribe").text
        assert '<input type="hidden" name="timezone" value="">' in page
        assert '<script src="/static/timezone.js" defer></script>' in page
        script = client.get("/static/timezone.js")
        assert script.status_code == 200 and "resolvedOptions().timeZone" in script.text
        assert signup(client, "kiri@example.com", timezone="Pacific/Auckland").status_code == 200
        assert signup(client, "max@example.com", timezone="Mars/Olympus_Mons").status_code == 200
        json_signup = client.post(
            "/subscribe",
            json={
                "email": "lou@example.com",
                "lists": ["beauty-tips"],
                "consent": True,
                "timezone": "America/Los_Angeles",
                "altcha": solve_altcha(client),
            },
        )
        assert json_signup.status_code == 202
        # The public form never changes a known subscriber's fields.
        assert signup(client, "kiri@example.com", timezone="Europe/London").status_code == 200
    assert fields_of(server.engine, "kiri@example.com") == {"timezone": "Pacific/Auckland"}
    assert fields_of(server.engine, "max@example.com") == {}
    assert fields_of(server.engine, "lou@example.com") == {"timezone": "America/Los_Angeles"}


def test_the_signup_box_of_other_pages_runs_no_script(server: Server) -> None:
    with server.client() as client:
        home = client.get("/")
    assert home.status_code == 200
    assert "timezone.js" not in home.text  # those pages allow no script at all


@pytest.mark.browser
def test_the_browser_fills_in_its_zone(server: Server, browser: Any) -> None:
    context = browser.new_context(timezone_id="Pacific/Auckland")
    try:
        page = context.new_page()
        page.goto(f"{server.url}/subscribe")
        field = page.locator('form.signup-form input[name="timezone"]')
        assert field.input_value() == "Pacific/Auckland"
    finally:
        context.close()
