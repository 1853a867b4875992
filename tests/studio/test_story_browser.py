"""The studio's whole story in Debian's chromium (issue 19's "done when"): an editor signs
in, creates an issue, writes two articles (one with an uploaded image), sees the preview
change, fixes a check finding shown under its line and submits it; an approver approves;
the editor schedules it with the date-time picker; ``send-due`` sends it; a reader clicks a
link in the outbox email; the editor opens the results and sees the click."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pipeline.accounts.users import Account
from pipeline.scheduling.due import send_due
from pipeline.subscribers import service
from tests.studio.test_writing_browser import csp_watch, line_of, set_line, sign_in
from tests.web.conftest import Server, html_of, mails
from tests.web.tracking_helpers import CHROME, flush, shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLUG = "2026-12-18-party-skin"


def write_article(page: Any, title: str, summary: str, body: str) -> None:
    """Fill the sample article's title, summary and body lines by typing."""
    set_line(page, line_of(page, "title:"), f"title: {title}")
    set_line(page, line_of(page, "summary:"), f"summary: {summary}")
    first = line_of(page, "Write the article here")
    set_line(page, first, body)
    page.evaluate(  # the sample's second body line goes
        "(n) => { const cm = document.querySelector('.CodeMirror').CodeMirror;"
        " cm.replaceRange('', {line: n, ch: 0}, {line: n + 1, ch: 0}); }",
        first,
    )


def save(page: Any) -> None:
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"saved=1"))


def test_write_review_schedule_send_and_read_the_results(
    server: Server, editor: Account, approver: Account, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    service.add_subscriber(
        server.engine, "reader@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    picture = tmp_path / "glow.png"
    Image.new("RGB", (1200, 900), (240, 200, 210)).save(picture)
    edie_context = browser.new_context()
    abe_context = browser.new_context()
    try:
        page = edie_context.new_page()
        problems = csp_watch(page)
        sign_in(page, server, editor)
        page.get_by_role("link", name="New issue").first.click()
        page.get_by_label("Name of the folder").fill(SLUG)
        page.get_by_label("Subject").fill("Party skin in five minutes")
        page.get_by_role("button", name="Create the issue").click()
        page.wait_for_url(f"{server.url}/admin/issues/{SLUG}/edit")

        # issue.md: the preheader finding is shown under its line; fixing it clears it
        preheader = line_of(page, "preheader:")
        expect(
            page.locator(".CodeMirror .finding-widget", has_text=f"line {preheader}:")
        ).to_contain_text("placeholder")
        set_line(page, preheader, "preheader: Glow, quickly.")
        intro = line_of(page, "Hello! This is the editor")
        set_line(page, intro, "Five minutes, three steps, one glow.")
        expect(
            page.locator(".CodeMirror .finding-widget", has_text=f"line {preheader}:")
        ).to_have_count(0, timeout=20_000)
        save(page)

        with shop() as shop_url:
            # article one: typed, with a picture; the preview changes as she types
            page.get_by_role("link", name="01-first-article.md").click()
            preview = page.frame_locator("iframe.email.light")
            expect(preview.locator("body")).to_contain_text("Your first article")
            write_article(
                page,
                "Prep in two minutes",
                "A mist and a balm.",
                f"Mist, then [the glow balm]({shop_url}/balm) on damp skin.",
            )
            expect(preview.locator("body")).to_contain_text("Prep in two minutes", timeout=20_000)
            page.get_by_label("Image file").set_input_files(str(picture))
            page.get_by_label("What the picture shows (alt text)").fill("A glowing cheek")
            page.get_by_role("button", name="Upload and insert").click()
            expect(preview.locator("img[alt='A glowing cheek']")).to_be_visible(timeout=20_000)
            save(page)

            # article two
            page.get_by_label("New article's title").fill("Finish with a highlight")
            page.get_by_role("button", name="Add the article").click()
            page.wait_for_url(re.compile(r"02-finish-with-a-highlight"))
            write_article(page, "Finish with a highlight", "Just a touch.", "Dab it on.")
            expect(preview.locator("body")).to_contain_text("Dab it on.", timeout=20_000)
            # no error left in the issue (the shop's http:// link is a warning)
            expect(page.locator("#findings li.finding.error")).to_have_count(0)
            save(page)

            # submit for review
            page.get_by_role("link", name=SLUG).first.click()
            page.get_by_role("button", name="Submit for review").click()
            expect(page.get_by_role("status")).to_contain_text("Submitted for review")

            # the approver approves
            abe = abe_context.new_page()
            sign_in(abe, server, approver)
            expect(abe.get_by_text("in review")).to_be_visible()
            abe.goto(f"{server.url}/admin/issues/{SLUG}")
            abe.get_by_role("button", name="Approve").click()
            expect(abe.get_by_role("status")).to_contain_text("Approved")

            # the editor schedules it in the newsletter's zone (London: UTC in December)
            page.goto(f"{server.url}/admin/issues/{SLUG}")
            expect(page.get_by_text("approved", exact=False).first).to_be_visible()
            page.get_by_label("Send at (Europe/London time)").fill("2026-12-18T08:00")
            page.get_by_role("button", name="Schedule", exact=True).click()
            expect(page.get_by_role("status")).to_contain_text("Scheduled.")
            expect(page.locator(".state").first).to_contain_text("scheduled 2026-12-18 08:00")

            # send-due, at the time
            due = datetime(2026, 12, 18, 8, 0, tzinfo=UTC)
            server.clock.advance(due - server.clock.now())
            report = send_due(server.settings, server.engine, clock=server.clock)
            assert [o.slug for o in report.outcomes] == [SLUG]
            server.clock.advance(timedelta(minutes=10))  # past the prefetch window

            # a reader clicks the balm link in the outbox email
            [message] = mails(server.settings, "Party skin", to="reader@example.com")
            reader = browser.new_context(user_agent=CHROME)
            try:
                mail = reader.new_page()
                mail.set_content(html_of(message))
                mail.get_by_role("link", name="the glow balm").click()
                mail.wait_for_url(f"{shop_url}/balm")
            finally:
                reader.close()
            flush(server)

        # the editor comes back (days later: she signs in again) and reads the results
        sign_in(page, server, editor)
        page.get_by_role("link", name="Results").first.click()
        page.get_by_role("link", name=SLUG).click()
        expect(
            page.get_by_role("heading", name="Results: Party skin in five minutes")
        ).to_be_visible()
        clicked = page.get_by_role("row", name=re.compile("Clicked \\(people\\)"))
        expect(clicked).to_contain_text("1")
        expect(page.get_by_role("row", name=re.compile("the glow balm"))).to_contain_text("1")
        expect(page.locator("img.chart")).to_have_js_property("complete", True)
        page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
        assert problems == []
    finally:
        edie_context.close()
        abe_context.close()
