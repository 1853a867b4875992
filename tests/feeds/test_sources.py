from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.errors import FeedError
from pipeline.feeds.sources import (
    add_feed,
    get_feed,
    list_feeds,
    remove_feed,
    sync_config_feeds,
)


def test_add_list_remove(engine: Engine, tmp_path: Path) -> None:
    web = add_feed(
        engine, "https://skin.example.com/feed", name="Skin", tags=["News, Tips", "news"]
    )
    assert (web.url, web.name, web.tags, web.origin) == (
        "https://skin.example.com/feed",
        "Skin",
        ["news", "tips"],
        "cli",
    )
    (tmp_path / "local.xml").write_text("<rss/>")
    local = add_feed(engine, "local.xml", root=tmp_path)
    assert local.url == str(tmp_path / "local.xml")
    file_url = add_feed(engine, "file:///srv/feeds/x.xml")
    assert [f.url for f in list_feeds(engine)] == [web.url, local.url, file_url.url]
    assert remove_feed(engine, "Skin").id == web.id
    assert remove_feed(engine, str(local.id)).id == local.id
    assert remove_feed(engine, "file:///srv/feeds/x.xml").id == file_url.id
    assert list_feeds(engine) == []


def test_add_errors(engine: Engine, tmp_path: Path) -> None:
    add_feed(engine, "https://skin.example.com/feed")
    with pytest.raises(FeedError) as err:
        add_feed(engine, "https://skin.example.com/feed")
    assert str(err.value) == (
        "the feed https://skin.example.com/feed is already added"
        " (see 'newsletter feeds list'; remove it first to change it)"
    )
    with pytest.raises(FeedError) as err:
        add_feed(engine, "ftp://example.com/feed.xml")
    assert str(err.value) == (
        "unsupported feed URL scheme 'ftp:' in 'ftp://example.com/feed.xml'"
        " (use an http(s):// or file:// URL, or a local file path)"
    )
    with pytest.raises(FeedError) as err:
        add_feed(engine, "missing.xml", root=tmp_path)
    assert str(err.value) == (
        f"no feed file at {tmp_path / 'missing.xml'} (check the path, or give an http(s) URL)"
    )
    with pytest.raises(FeedError) as err:
        remove_feed(engine, "https://nope.example/")
    assert str(err.value) == (
        "no feed 'https://nope.example/' (see 'newsletter feeds list' for the URLs)"
    )


def test_sync_config_feeds(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    add_feed(engine, "https://cli.example.com/feed")
    sources = [
        {"url": "https://a.example.com/feed", "name": "A", "tags": ["news"]},
        {"url": "feeds/local.xml", "name": "Local"},
    ]
    settings = make_settings(**{"database.url": db_url, "feeds.sources": sources})
    report = sync_config_feeds(settings, engine)
    assert (report.added, report.updated, report.removed) == (2, 0, 0)
    assert sync_config_feeds(settings, engine) == report.__class__(0, 0, 0)
    local = get_feed(engine, str(settings.root / "feeds" / "local.xml"))
    assert local is not None and (local.origin, local.name) == ("config", "Local")
    with pytest.raises(FeedError) as err:
        remove_feed(engine, "A")
    assert str(err.value) == (
        "the feed https://a.example.com/feed comes from newsletter.toml"
        " (remove it from [[feeds.sources]] in newsletter.toml instead)"
    )
    fewer = make_settings(
        **{
            "database.url": db_url,
            "feeds.sources": [{"url": "https://a.example.com/feed", "name": "A2"}],
        }
    )
    assert sync_config_feeds(fewer, engine) == report.__class__(0, 1, 1)
    assert [(f.url, f.name, f.tags, f.origin) for f in list_feeds(engine)] == [
        ("https://cli.example.com/feed", "", [], "cli"),
        ("https://a.example.com/feed", "A2", [], "config"),
    ]
