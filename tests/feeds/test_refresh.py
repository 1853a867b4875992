from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.errors import FeedError
from pipeline.feeds.inbox import list_entries
from pipeline.feeds.refresh import refresh_feeds
from pipeline.feeds.sources import add_feed, list_feeds
from tests.feeds.safety import assert_safe
from tests.feeds.samples import (
    ATOM_10,
    MALFORMED,
    NOT_A_FEED,
    RSS_091,
    RSS_10,
    RSS_20,
    WRONG_ENCODING,
    hostile_feed,
)
from tests.feeds.server import FeedServer

CLOCK = FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


def test_fetch_every_kind_of_feed(  # a slow feed: see test_fetch.py
    feed_server: FeedServer, feed_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    xml = {"Content-Type": "application/xml"}
    good = {
        "/rss091": RSS_091,
        "/rss20": RSS_20,
        "/rss10": RSS_10,
        "/atom": ATOM_10,
        "/hostile": hostile_feed(),
    }
    for path, body in good.items():
        add_feed(engine, feed_server.add(path, body, headers=xml), name=path.strip("/"))
    add_feed(
        engine,
        feed_server.add(
            "/latin1-lie", WRONG_ENCODING, headers={"Content-Type": "text/xml; charset=iso-8859-1"}
        ),
        name="enc",
        tags=["news"],
    )
    add_feed(engine, feed_server.add("/malformed", MALFORMED), name="malformed")
    add_feed(engine, feed_server.add("/page", NOT_A_FEED), name="page")
    add_feed(engine, feed_server.add("/500", "x", status=500), name="err")
    add_feed(engine, feed_server.add("/huge", b"<rss>" + b"x" * 100_000), name="huge")
    feed_server.add("/loop", redirect="/loop2")
    add_feed(engine, feed_server.add("/loop2", redirect="/loop"), name="loop")
    local = tmp_path / "local.xml"
    local.write_text(RSS_10.replace("serums", "toners"))
    add_feed(engine, str(local), name="local")

    outcomes = {o.feed.name: o for o in refresh_feeds(feed_settings, engine, clock=CLOCK)}
    assert {n: o.status for n, o in outcomes.items()} == {
        "rss091": "ok",
        "rss20": "ok",
        "rss10": "ok",
        "atom": "ok",
        "hostile": "ok",
        "enc": "ok",
        "malformed": "ok",
        "page": "error",
        "err": "error",
        "huge": "error",
        "loop": "error",
        "local": "ok",
    }
    assert outcomes["malformed"].warning == (
        "not well-formed, entries kept: <unknown>:4:17: not well-formed (invalid token)"
    )
    assert outcomes["page"].error == "not a usable feed: not an RSS or Atom feed"
    assert outcomes["err"].error == "HTTP 500 Internal Server Error"
    assert outcomes["huge"].error == "larger than 65,536 bytes ([feeds] max_bytes)"
    assert outcomes["loop"].error == "more than 3 redirects ([feeds] max_redirects)"
    assert outcomes["rss20"].added == 3
    assert outcomes["hostile"].added == 29

    entries = list_entries(engine)
    for e in entries:
        assert_safe(e.summary_html, e.title)
        assert_safe(e.content_html, e.title)
    [cafe] = [e for e in entries if e.source_name == "enc"]
    assert cafe.title == "Café – naïve “quotes”"
    assert cafe.tags == ["news"]
    assert [e.link for e in entries if e.source_name == "local"] == [
        "https://rdf.example.com/toners"
    ]

    status = {f.name: (f.last_status, f.last_error) for f in list_feeds(engine)}
    assert status["err"] == ("error", "HTTP 500 Internal Server Error")
    assert status["rss20"] == ("ok", None)
    assert status["malformed"][0] == "ok"


def test_second_fetch_is_conditional_and_adds_nothing(
    feed_server: FeedServer, feed_settings: Settings, engine: Engine
) -> None:
    url = feed_server.add("/rss", RSS_20, etag='"abc"')
    plain = feed_server.add("/plain", ATOM_10)
    add_feed(engine, url, name="etag")
    add_feed(engine, plain, name="plain")
    first = refresh_feeds(feed_settings, engine, clock=CLOCK)
    assert [(o.status, o.added) for o in first] == [("ok", 3), ("ok", 1)]
    second = refresh_feeds(feed_settings, engine, clock=CLOCK)
    assert [(o.status, o.added, o.duplicates) for o in second] == [
        ("not_modified", 0, 0),
        ("ok", 0, 1),
    ]
    assert feed_server.seen("/rss")[1]["if-none-match"] == '"abc"'
    assert len(list_entries(engine)) == 4


def test_standing_feeds_from_settings_are_fetched(
    feed_server: FeedServer, make_settings: object, db_url: str, engine: Engine
) -> None:
    url = feed_server.add("/standing", RSS_10)
    settings = make_settings(  # type: ignore[operator]
        **{
            "database.url": db_url,
            "feeds.sources": [{"url": url, "name": "Standing", "tags": ["tips"]}],
        }
    )
    [outcome] = refresh_feeds(settings, engine, clock=CLOCK)
    assert (outcome.feed.origin, outcome.status, outcome.added) == ("config", "ok", 1)
    assert list_entries(engine)[0].tags == ["tips", "serums"]


def test_only_some_feeds(feed_server: FeedServer, feed_settings: Settings, engine: Engine) -> None:
    add_feed(engine, feed_server.add("/a", RSS_10), name="a")
    add_feed(engine, feed_server.add("/b", ATOM_10), name="b")
    outcomes = refresh_feeds(feed_settings, engine, only=["b"], clock=CLOCK)
    assert [o.feed.name for o in outcomes] == ["b"]
    with pytest.raises(FeedError) as err:
        refresh_feeds(feed_settings, engine, only=["b", "c"], clock=CLOCK)
    assert str(err.value) == "no feed 'c' (give a URL or name from 'newsletter feeds list')"


def test_overlong_validators_are_not_kept(
    feed_server: FeedServer, feed_settings: Settings, engine: Engine
) -> None:
    add_feed(engine, feed_server.add("/long", RSS_10, etag='"' + "x" * 400 + '"'), name="long")
    [outcome] = refresh_feeds(feed_settings, engine, clock=CLOCK)
    assert outcome.status == "ok"
    [feed] = list_feeds(engine)
    assert (feed.etag, feed.last_status) == (None, "ok")
