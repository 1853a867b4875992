from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.content.issues import load_issue
from pipeline.errors import FeedError
from pipeline.feeds.draft import draft_issue_from_inbox, parse_since
from pipeline.feeds.inbox import list_entries, store_entries
from pipeline.feeds.parse import FeedEntry, parse_feed
from pipeline.feeds.sources import add_feed
from pipeline.render.build import build_issue
from tests.feeds.samples import RSS_20

CLOCK = FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


def fill_inbox(engine: Engine) -> None:
    feed = add_feed(engine, "https://skin.example.com/feed", name="Skin Daily", tags=["news"])
    entries = parse_feed(RSS_20.encode(), source=feed.url).entries
    old = FeedEntry(
        guid="old",
        link="https://skin.example.com/old",
        title="An old story",
        summary_html="<p>From last month.</p>",
        content_html="",
        published_at=CLOCK.now() - timedelta(days=30),
    )
    store_entries(engine, feed, [*entries, old], now=CLOCK.now())


def test_draft_from_inbox_writes_articles_and_marks_entries(
    settings: Settings, engine: Engine
) -> None:
    fill_inbox(engine)
    folder = draft_issue_from_inbox(
        settings, engine, "2026-12-01-news", since=timedelta(days=7), tags=[], limit=5, clock=CLOCK
    )
    assert folder == settings.issues_dir / "2026-12-01-news"
    names = sorted(p.name for p in (folder / "articles").glob("*.md"))
    assert names == [
        "01-masks-for-winter.md",
        "02-retinol-what-the-studies-say.md",
        "03-sunscreen-every-day.md",
    ]
    assert (folder / "articles" / "02-retinol-what-the-studies-say.md").read_text() == (
        "---\n"
        "title: 'Retinol: what the studies say'\n"
        "summary: 'Short: retinol works, slowly.'\n"
        "image: https://cdn.example.com/retinol.jpg\n"
        "image_alt: 'Retinol: what the studies say'\n"
        "link: https://Skin.Example.com/retinol?id=7#top\n"
        "author: Ana Ruiz\n"
        "tags:\n- news\n- skin care\n- science\n"
        "source: Skin Daily\n"
        "source_link: https://skin.example.com/\n"
        "---\n\n"
        "Retinol *works*, slowly. [Read the studies](https://skin.example.com/studies).\n\n"
        "![A chart](https://skin.example.com/img/chart.png)\n"
    )
    masks = (folder / "articles" / "01-masks-for-winter.md").read_text()
    assert "![inline](https://cdn.example.com/inline.jpg)" in masks

    issue = load_issue(settings, "2026-12-01-news")
    assert issue.subject == "Glow Notes: Masks for winter"
    assert [a.title for a in issue.articles] == [
        "Masks for winter",
        "Retinol: what the studies say",
        "Sunscreen every day",
    ]
    assert issue.articles[1].source == "Skin Daily"

    used = {e.title: e.used_in for e in list_entries(engine)}
    assert used == {
        "Masks for winter": "2026-12-01-news",
        "Retinol: what the studies say": "2026-12-01-news",
        "Sunscreen every day": "2026-12-01-news",
        "An old story": None,
    }
    with pytest.raises(FeedError) as err:
        draft_issue_from_inbox(
            settings, engine, "2026-12-02-news", since=timedelta(days=7), tags=[], limit=5
        )
    assert str(err.value) == (
        "no unused inbox entries from the last 7d"
        " (run 'newsletter feeds fetch', or widen --since / --tag)"
    )
    # without --since the old one is still there, once
    again = draft_issue_from_inbox(
        settings, engine, "2026-12-02-news", since=None, tags=["news"], limit=5, clock=CLOCK
    )
    assert [p.name for p in (again / "articles").glob("*.md")] == ["01-an-old-story.md"]


def test_drafted_issue_builds_without_check_errors(settings: Settings, engine: Engine) -> None:
    fill_inbox(engine)
    draft_issue_from_inbox(settings, engine, "drafted", since=None, tags=[], limit=3, clock=CLOCK)
    build = build_issue(settings, "drafted", web=False)
    assert [str(f) for f in build.errors] == []


def test_limit_and_tags(settings: Settings, engine: Engine) -> None:
    fill_inbox(engine)
    folder = draft_issue_from_inbox(
        settings, engine, "one", since=None, tags=["science"], limit=1, clock=CLOCK
    )
    assert [p.name for p in (folder / "articles").glob("*.md")] == [
        "01-retinol-what-the-studies-say.md"
    ]
    with pytest.raises(FeedError) as err:
        draft_issue_from_inbox(settings, engine, "two", since=None, tags=["science"], limit=1)
    assert str(err.value) == (
        "no unused inbox entries tagged science"
        " (run 'newsletter feeds fetch', or widen --since / --tag)"
    )


def test_parse_since() -> None:
    assert parse_since("7d") == timedelta(days=7)
    assert parse_since("12h") == timedelta(hours=12)
    assert parse_since("2w") == timedelta(weeks=2)
    with pytest.raises(FeedError) as err:
        parse_since("a week")
    assert str(err.value) == (
        "cannot read --since 'a week' (use a number and a unit: 30m, 12h, 7d or 2w)"
    )


def test_links_with_unsafe_schemes_are_removed_from_drafted_markdown(
    settings: Settings, engine: Engine
) -> None:
    feed = add_feed(engine, "https://skin.example.com/feed", name="Skin Daily")
    body = (
        "<p>Try [md link](javascript:alert(1)) or [data](DATA:text/html,x), "
        '<a href="https://skin.example.com/ok">a real link</a>, '
        "[fine](https://skin.example.com/a(b)) and [mail](mailto:a@b.example).</p>"
        "<p>&lt;javascript:alert(2)&gt; [entity](jav&amp;#97;script:alert(3))</p>"
    )
    entry = FeedEntry(
        guid="x",
        link="https://skin.example.com/x",
        title="Links",
        summary_html="",
        content_html=body,
        published_at=CLOCK.now(),
    )
    store_entries(engine, feed, [entry], now=CLOCK.now())
    folder = draft_issue_from_inbox(
        settings, engine, "2026-12-01-links", since=None, tags=[], limit=5, clock=CLOCK
    )
    text = (folder / "articles" / "01-links.md").read_text()
    assert "javascript" not in text.lower() and "data:" not in text.lower()
    assert "Try md link or data," in text
    assert "[a real link](https://skin.example.com/ok)" in text
    assert "[fine](https://skin.example.com/a(b))" in text
    assert "[mail](mailto:a@b.example)" in text
    assert "entity" in text


def test_a_drafted_article_shows_its_picture_once_and_links_without_utm() -> None:
    from pipeline.feeds.draft import entry_front_matter, entry_markdown
    from pipeline.feeds.inbox import InboxEntry

    body = (
        '<p><img src="https://img.example.com/glow.jpg?utm_source=rss" alt="Glow"> Serums '
        'work. <a href="https://skin.example.com/a?utm_source=rss&amp;id=2&amp;utm_medium=feed">'
        'Read the study</a></p><p><img src="https://img.example.com/other.jpg" alt="Other"></p>'
    )
    entry = InboxEntry(
        id=1,
        guid="g",
        link="https://skin.example.com/story?utm_campaign=x",
        title="Serums",
        summary_html="",
        content_html=body,
        author="",
        published_at=None,
        image_url="https://img.example.com/glow.jpg",
        image_alt="Glow",
        tags=[],
        source_name="Skin Daily",
        feed_id=None,
        used_in=None,
        fetched_at=CLOCK.now(),
    )
    front = entry_front_matter(entry)
    assert (front["image"], front["link"]) == (
        "https://img.example.com/glow.jpg",
        "https://skin.example.com/story",
    )
    assert entry_markdown(entry) == (
        "Serums work. [Read the study](https://skin.example.com/a?id=2)\n\n"
        "![Other](https://img.example.com/other.jpg)"
    )
