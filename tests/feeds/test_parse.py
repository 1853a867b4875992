from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.feeds.parse import parse_feed, repair_declared_encoding
from tests.feeds.safety import assert_safe
from tests.feeds.samples import (
    ATOM_10,
    MALFORMED,
    NOT_A_FEED,
    RSS_091,
    RSS_10,
    RSS_20,
    WRONG_ENCODING,
    WRONG_ENCODING_1252,
    hostile_feed,
)

SRC = "https://src.example/feed.xml"


def parse(doc: str | bytes, content_type: str | None = None) -> object:
    data = doc.encode() if isinstance(doc, str) else doc
    return parse_feed(data, source=SRC, final_url=SRC, content_type=content_type)


def test_rss_091() -> None:
    feed = parse_feed(RSS_091.encode(), source=SRC)
    assert (feed.title, feed.bozo, feed.problem) == ("Old School Beauty", False, "")
    [entry] = feed.entries
    assert entry.title == "Cold cream, the classic"
    assert entry.guid == entry.link == "https://old.example.com/cold-cream"
    assert entry.summary_html == "A jar that <b>lasted</b> a century."
    assert entry.published_at is None


def test_rss_20_fields_images_dates_and_tags() -> None:
    feed = parse_feed(RSS_20.encode(), source=SRC, final_url=SRC)
    retinol, sunscreen, masks = feed.entries
    assert retinol.guid == "skin-daily-retinol"
    assert retinol.author == "Ana Ruiz"
    assert retinol.published_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert retinol.tags == ["Skin care", "science"]
    assert retinol.image_url == "https://cdn.example.com/retinol.jpg"  # media:content
    assert retinol.content_html == (
        '<p>Retinol <em>works</em>, slowly. <a href="https://skin.example.com/studies"'
        ' rel="noopener">Read the studies</a>.</p>\n'
        '<img alt="A chart" src="https://skin.example.com/img/chart.png">'
    )
    assert sunscreen.image_url == "https://cdn.example.com/sun-thumb.jpg"  # media:thumbnail
    assert sunscreen.published_at == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert masks.image_url == "https://cdn.example.com/mask.png"  # enclosure


def test_first_image_when_nothing_else() -> None:
    doc = RSS_20.replace(
        '<enclosure url="https://cdn.example.com/mask.png" length="1000" type="image/png" />', ""
    )
    masks = parse_feed(doc.encode(), source=SRC).entries[2]
    assert (masks.image_url, masks.image_alt) == ("https://cdn.example.com/inline.jpg", "inline")


def test_rss_10() -> None:
    feed = parse_feed(RSS_10.encode(), source=SRC)
    [entry] = feed.entries
    assert (entry.title, entry.link, entry.tags) == (
        "Serums explained",
        "https://rdf.example.com/serums",
        ["serums"],
    )
    assert entry.published_at == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_atom_10_time_zone_html_title_and_relative_link() -> None:
    feed = parse_feed(ATOM_10.encode(), source=SRC)
    [entry] = feed.entries
    assert entry.title == "Night routines"
    assert entry.author == "Mei Tanaka"
    assert entry.published_at == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    assert entry.guid == "tag:atom.example.com,2026:night"
    assert entry.summary_html == "Three steps before bed."
    assert entry.content_html == (
        '<p>Cleanse, treat, <a href="https://atom.example.com/posts/moisturise"'
        ' rel="noopener">moisturise</a>.</p>'
    )


def test_malformed_feed_with_entries_is_kept_with_a_problem() -> None:
    feed = parse_feed(MALFORMED.encode(), source=SRC)
    assert feed.bozo and not feed.broken
    assert feed.problem == "<unknown>:4:17: not well-formed (invalid token)"
    assert [e.title for e in feed.entries] == ["Still readable"]


def test_a_web_page_is_broken() -> None:
    feed = parse_feed(NOT_A_FEED.encode(), source=SRC)
    assert feed.broken and feed.problem == "not an RSS or Atom feed"


def test_empty_bytes_are_broken() -> None:
    feed = parse_feed(b"", source=SRC)
    assert feed.broken and feed.entries == []


@pytest.mark.parametrize(
    "content_type",
    [None, "text/xml; charset=iso-8859-1", "application/rss+xml;charset='ISO-8859-1'"],
)
def test_utf8_declared_as_latin1_decodes_right(content_type: str | None) -> None:
    feed = parse_feed(WRONG_ENCODING, source=SRC, content_type=content_type)
    assert feed.title == "Crème de la crème"
    [entry] = feed.entries
    assert entry.title == "Café – naïve “quotes”"
    assert entry.summary_html == "Crème brûlée for the skin? 日本の美容"


@pytest.mark.parametrize("content_type", [None, "text/xml; charset=utf-8"])
def test_windows_1252_declared_as_utf8_decodes_right(content_type: str | None) -> None:
    feed = parse_feed(WRONG_ENCODING_1252, source=SRC, content_type=content_type)
    [entry] = feed.entries
    assert entry.title == "Don’t panic – it’s “fine”"
    assert entry.summary_html == "Naïve café"


@pytest.mark.parametrize("encoding", ["utf-16", "iso-8859-15", "koi8-r", "shift_jis"])
def test_correct_declarations_are_respected(encoding: str) -> None:
    title = {"koi8-r": "Крем", "shift_jis": "化粧水"}.get(encoding, "Crème €")
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>t</title><item><title>{title}</title></item></channel></rss>"
    )
    feed = parse_feed(doc.encode(encoding), source=SRC)
    assert feed.entries[0].title == title


def test_repair_leaves_real_latin1_alone() -> None:
    data = b'<?xml version="1.0" encoding="iso-8859-1"?><rss/>' + "é".encode("latin-1")
    assert repair_declared_encoding(data, "text/xml; charset=iso-8859-1") == (
        data,
        "text/xml; charset=iso-8859-1",
    )


def test_hostile_entries_come_out_clean() -> None:
    feed = parse_feed(hostile_feed().encode(), source=SRC, final_url=SRC)
    assert len(feed.entries) == 29
    for entry in feed.entries:
        assert_safe(entry.summary_html, entry.title)
        assert_safe(entry.content_html, entry.title)
    texts = {e.title: e.summary_html for e in feed.entries}
    assert texts["Hostile 0"] == "<p>after script</p>"
    assert texts["Hostile 24"] == '<a href="https://ok.example/" rel="noopener">fine</a>'


def test_entries_without_id_or_link_get_a_stable_guid() -> None:
    doc = (
        "<rss version='2.0'><channel><title>t</title><item><title>a</title>"
        "<description>b</description></item></channel></rss>"
    )
    first = parse_feed(doc.encode(), source=SRC).entries[0].guid
    again = parse_feed(doc.encode(), source=SRC).entries[0].guid
    other = parse_feed(doc.encode(), source="https://other.example/").entries[0].guid
    assert first == again != other
    assert first.startswith("sha256:")


def test_an_entry_with_no_title_and_no_content_is_not_an_article() -> None:
    doc = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<item><link>https://src.example/empty</link></item>"
        "<item><title></title><description>  </description></item>"
        "<item><description>&lt;p&gt;Text, no title&lt;/p&gt;</description></item>"
        "<item><title>Title only</title></item>"
        "</channel></rss>"
    )
    feed = parse_feed(doc.encode(), source=SRC)
    assert [(e.title, e.summary_html) for e in feed.entries] == [
        ("", "<p>Text, no title</p>"),
        ("Title only", ""),
    ]
