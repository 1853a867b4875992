"""One date per issue (pipeline.content.dates): the email's Date header, the date in the
email and its web version, and the archive's index, issue page and feeds agree for a sent
issue, even when the newsletter's time zone is already on the next day and the slug names
the day before."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.sending.editions import freeze_edition
from pipeline.sending.engine import send_edition
from pipeline.store.tables import editions
from pipeline.subscribers import service
from tests.web.conftest import Server, mails, text_of

SLUG = "2026-12-01-microneedling"
SUBJECT = "Microneedling, explained"
ATOM = "{http://www.w3.org/2005/Atom}"
# 12:00 UTC on 1 December is 01:00 on 2 December in Auckland (UTC+13 in summer).
SENT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = "2 December 2026"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(SENT)


@pytest.fixture
def web_settings(web_settings: Settings) -> Settings:
    newsletter = web_settings.newsletter.model_copy(update={"timezone": "Pacific/Auckland"})
    return web_settings.model_copy(update={"newsletter": newsletter})


def _day(when: datetime) -> str:
    return f"{when.day} {when:%B %Y}"


def test_header_web_version_and_archive_show_the_same_date(server: Server) -> None:
    service.add_subscriber(
        server.engine, "ana@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    edition_id = freeze_edition(server.settings, server.engine, SLUG, clock=server.clock)
    report = send_edition(server.settings, server.engine, edition_id, clock=server.clock)
    assert report.sent == 1

    [message] = mails(server.settings, SUBJECT, to="ana@example.com")
    header_day = _day(parsedate_to_datetime(str(message["Date"])))
    assert message["Date"].endswith("+1300")
    text = text_of(message)
    assert DAY in text and "1 December 2026" not in text
    with server.engine.connect() as conn:
        web_html = conn.execute(
            select(editions.c.web_html).where(editions.c.slug == SLUG)
        ).scalar_one()
    assert DAY.upper() in web_html and "1 DECEMBER 2026" not in web_html

    with server.client() as client:
        index = client.get("/").text
        page = client.get(f"/issues/{SLUG}").text
        atom = ET.fromstring(client.get("/feed.xml").content)
        rss = ET.fromstring(client.get("/rss.xml").content)
    [index_day] = re.findall(r'<time class="small muted" datetime="[^"]+">([^<]+)</time>', index)
    [page_day] = re.findall(r'Sent <time datetime="[^"]+">([^<]+)</time>', page)
    published = atom.find(f"{ATOM}entry/{ATOM}published")
    pub_date = rss.find("channel/item/pubDate")
    assert published is not None and published.text and pub_date is not None and pub_date.text
    atom_day = _day(datetime.fromisoformat(published.text))
    rss_day = _day(parsedate_to_datetime(pub_date.text))
    assert [header_day, index_day, page_day, atom_day, rss_day] == [DAY] * 5
