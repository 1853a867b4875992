from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from pipeline.feeds.inbox import (
    list_entries,
    mark_used,
    normalise_link,
    store_entries,
    strip_tracking,
)
from pipeline.feeds.parse import FeedEntry
from pipeline.feeds.sources import Feed, add_feed

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LONG = (
    "Dermatologists agree that a broad spectrum sunscreen applied every single morning is "
    "the most effective anti ageing product you can buy, far ahead of serums and creams, "
    "because ultraviolet light breaks down collagen even on cloudy winter days in the city."
)
OTHER = (
    "Retinoids speed up cell turnover and can cause dryness in the first weeks, so start "
    "with a low concentration two nights a week and build up slowly while using a gentle "
    "moisturiser, and never combine them with strong exfoliating acids on the same night."
)


def entry(guid: str, link: str = "", text: str = "", **kw: object) -> FeedEntry:
    values: dict[str, object] = {
        "guid": guid,
        "link": link,
        "title": f"Title {guid}",
        "summary_html": f"<p>{text or guid}</p>",
        "content_html": "",
    }
    values.update(kw)
    return FeedEntry(**values)  # type: ignore[arg-type]


@pytest.fixture
def feed(engine: Engine) -> Feed:
    return add_feed(engine, "https://skin.example.com/feed", name="Skin Daily", tags=["News"])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://Skin.Example.COM/a/?utm_source=x&id=7&fbclid=1&UTM_Medium=y#frag",
            "https://skin.example.com/a?id=7",
        ),
        ("HTTP://example.com:80/", "http://example.com/"),
        ("https://example.com:8443/x?gclid=1&mc_cid=2&mc_eid=3", "https://example.com:8443/x"),
        ("https://example.com", "https://example.com/"),
        ("", ""),
    ],
)
def test_normalise_link(url: str, expected: str) -> None:
    assert normalise_link(url) == expected


def test_strip_tracking_keeps_the_rest() -> None:
    assert strip_tracking("https://A.example/x?utm_source=a&id=2&fbclid=z#f") == (
        "https://A.example/x?id=2#f"
    )
    assert strip_tracking("https://a.example/x?b=1&a=2") == "https://a.example/x?b=1&a=2"


def test_store_and_list(engine: Engine, feed: Feed) -> None:
    report = store_entries(
        engine,
        feed,
        [
            entry("a", "https://skin.example.com/a", published_at=NOW - timedelta(days=1)),
            entry("b", "https://skin.example.com/b", published_at=NOW - timedelta(days=10)),
            entry("c", "https://skin.example.com/c", tags=["Retinol"]),
        ],
        now=NOW,
    )
    assert (report.added, report.duplicates) == (3, 0)
    entries = list_entries(engine)
    # entries without a published time sort by fetch time (NOW)
    assert [e.guid for e in entries] == ["c", "a", "b"]
    c = entries[0]
    assert (c.source_name, c.tags, c.feed_id, c.used_in) == (
        "Skin Daily",
        ["news", "retinol"],
        feed.id,
        None,
    )
    assert c.fetched_at == NOW
    assert entries[1].published_at == NOW - timedelta(days=1)
    recent = list_entries(engine, since=NOW - timedelta(days=7))
    assert [e.guid for e in recent] == ["c", "a"]
    assert [e.guid for e in list_entries(engine, tags=["retinol"])] == ["c"]
    assert [e.guid for e in list_entries(engine, tags=["news"], limit=2)] == ["c", "a"]


def test_duplicates_by_guid_link_and_text(engine: Engine, feed: Feed) -> None:
    first = store_entries(
        engine, feed, [entry("one", "https://skin.example.com/sun?id=1", LONG)], now=NOW
    )
    assert first.added == 1
    report = store_entries(
        engine,
        feed,
        [
            entry("one", "https://elsewhere.example/x"),  # same GUID
            entry("two", "https://SKIN.example.com/sun?utm_source=rss&id=1#comments"),  # link
            entry("three", "https://other.example/story", "Reposted: " + LONG),  # text
            entry("four", "https://other.example/retinoids", OTHER),  # new
            entry("four", "https://other.example/retinoids-again"),  # same GUID, same batch
        ],
        now=NOW,
    )
    assert (report.added, report.duplicate_guid, report.duplicate_link) == (1, 2, 1)
    assert report.duplicate_text == 1
    assert sorted(e.guid for e in list_entries(engine)) == ["four", "one"]


def test_short_texts_are_never_near_duplicates(engine: Engine, feed: Feed) -> None:
    report = store_entries(
        engine,
        feed,
        [entry("x", "https://a.example/1", "Sunscreen."), entry("y", "https://a.example/2")],
        now=NOW,
    )
    assert report.added == 2


def test_mark_used_and_unused_only(engine: Engine, feed: Feed) -> None:
    report = store_entries(
        engine,
        feed,
        [entry("a", "https://a.example/a"), entry("b", "https://a.example/b")],
        now=NOW,
    )
    assert mark_used(engine, report.added_ids[:1], "2026-12-01-news", at=NOW) == 1
    unused = list_entries(engine, unused_only=True)
    assert [e.guid for e in unused] == ["b"]
    used = [e for e in list_entries(engine) if e.used_in]
    assert [(e.guid, e.used_in) for e in used] == [("a", "2026-12-01-news")]
