"""Open a message from the Maildir outbox in Debian's chromium: the pixel is fetched and an
open recorded; a click lands on the shop's page and is recorded as a person's."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.tracking.stats import edition_stats
from tests.web.conftest import Server, html_of
from tests.web.tracking_helpers import CHROME, flush, message_to, recorded, send_issue, shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_person_opens_the_message_and_clicks_in_the_browser(server: Server, browser: Any) -> None:
    with shop() as shop_url:
        eid = send_issue(server, shop_url, ["gil@example.com"])
        html = html_of(message_to(server, "gil@example.com"))
        # A person's browser (headless chromium names itself "HeadlessChrome", which the
        # scanner rules rightly treat as a machine).
        context = browser.new_context(user_agent=CHROME)
        try:
            page = context.new_page()
            with page.expect_response(lambda r: "/o/" in r.url) as pixel:
                page.set_content(html)  # the message as a mail client shows it
            assert pixel.value.status == 200
            assert flush(server) == 1
            assert recorded(server.engine) == [("open", None, "human", None)]

            assert not page.locator('a[aria-hidden="true"]').first.is_visible()  # honeypot
            page.get_by_role("link", name="Shop the serum").click()
            page.wait_for_url(f"{shop_url}/serum")
            assert page.title() == "Shop /serum"
        finally:
            context.close()
        assert flush(server) == 1
        assert recorded(server.engine)[1] == ("click", 1, "human", None)
        stats = edition_stats(server.engine, eid)
        assert (stats.opens, stats.clicks, stats.machine_opens, stats.machine_clicks) == (
            1,
            1,
            0,
            0,
        )
        assert stats.links[0].text == "Shop the serum" and stats.links[0].unique_clicks == 1
