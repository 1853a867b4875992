"""The whole journey in Debian's chromium: sign up on the page, confirm from the Maildir
outbox, receive the sample issue, unsubscribe through its link, and check the database."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.sending.editions import freeze_edition
from pipeline.sending.engine import send_edition
from pipeline.subscribers import service
from tests.web.conftest import Server, link_in, mails
from tests.web.helpers import person

SLUG = "2026-12-01-microneedling"
SUBJECT = "Microneedling, explained: what it is and what to expect"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_signup_confirm_receive_unsubscribe_in_the_browser(server: Server, page: Any) -> None:
    address = "journey@example.com"
    page.goto(f"{server.url}/subscribe")
    assert page.title() == "Subscribe to Glow Notes"
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Your first name").fill("Jules")
    page.get_by_label("Beauty news").uncheck()  # keep only "Beauty tips"
    page.get_by_label("Yes, send me Glow Notes by email.", exact=False).check()
    # the ALTCHA widget (served by the app, under its strict CSP) solves the proof of work
    page.get_by_text("Verified", exact=True).wait_for()
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Check your inbox").is_visible()
    assert person(server.engine, address)["lists"]["beauty-tips"].status == "unconfirmed"

    [confirm] = mails(server.settings, "Please confirm", to=address)
    page.goto(link_in(confirm, "/confirm/"))
    assert person(server.engine, address)["lists"]["beauty-tips"].status == "unconfirmed"
    page.get_by_role("button", name="Confirm my subscription").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="You're subscribed").is_visible()
    assert person(server.engine, address)["lists"]["beauty-tips"].status == "confirmed"
    assert "news" not in person(server.engine, address)["lists"]
    assert len(mails(server.settings, "Welcome to Glow Notes", to=address)) == 1

    edition_id = freeze_edition(server.settings, server.engine, SLUG, clock=server.clock)
    report = send_edition(server.settings, server.engine, edition_id, clock=server.clock)
    assert report.sent == 1
    [issue] = mails(server.settings, SUBJECT, to=address)
    unsubscribe_url = link_in(issue, "/unsubscribe/")
    assert f"<{unsubscribe_url}>" in str(issue["List-Unsubscribe"])
    assert str(issue["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"

    page.goto(unsubscribe_url)
    assert page.get_by_role("heading", name="Unsubscribe from Glow Notes?").is_visible()
    assert person(server.engine, address)["status"] == "active"  # opening changes nothing
    page.get_by_role("button", name="Unsubscribe").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="You're unsubscribed").is_visible()
    assert page.get_by_role("button", name="Resubscribe").is_visible()

    journey = person(server.engine, address)
    assert journey["status"] == "unsubscribed"
    assert journey["lists"]["beauty-tips"].status == "unsubscribed"
    assert service.is_suppressed(server.engine, address)

    page.goto(f"{server.url}/")
    page.get_by_role("link", name=SUBJECT).click()
    page.wait_for_load_state()
    assert page.title() == f"{SUBJECT} · Glow Notes"
    # the archive's signup box (the /subscribe form) stands in for the web version's band
    box = page.get_by_role("complementary", name="Get Glow Notes in your inbox")
    box.scroll_into_view_if_needed()
    assert box.get_by_label("Email address").is_visible()
    assert box.get_by_role("button", name="Subscribe").is_visible()
    assert not page.get_by_role("link", name="Subscribe to Glow Notes").is_visible()
