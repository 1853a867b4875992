from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.content.issues import load_issue
from pipeline.errors import ConfigError
from pipeline.feeds.inbox import list_entries, store_entries
from pipeline.feeds.parse import parse_feed
from pipeline.feeds.sources import add_feed
from pipeline.render.build import build_issue
from pipeline.scheduling.digest import run_digest
from pipeline.sending.editions import find_edition, get_edition
from tests.feeds.samples import RSS_20
from tests.schedule.conftest import add_audience

TUESDAY = FixedClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))  # 08:00 in London


@pytest.fixture
def digest_settings(make_settings: Callable[..., Settings], db_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values = {
            "database.url": db_url,
            "digest.enabled": True,
            "digest.days": ["tue", "fri"],
            "digest.time": "10:00",
            "digest.lists": ["news"],
            "digest.min_entries": 3,
        }
        values.update({f"digest.{k}": v for k, v in overrides.items()})
        return make_settings(**values)

    return make


def fill(engine: Engine, doc: str = RSS_20) -> None:
    feed = add_feed(engine, "https://skin.example.com/feed", name="Skin Daily", tags=["news"])
    store_entries(
        engine, feed, parse_feed(doc.encode(), source=feed.url).entries, now=TUESDAY.now()
    )


def test_digest_off(digest_settings: Callable[..., Settings], engine: Engine) -> None:
    report = run_digest(digest_settings(enabled=False), engine, clock=TUESDAY)
    assert (report.status, report.message) == (
        "skipped",
        "the digest is off (set enabled = true under [digest] in newsletter.toml)",
    )


def test_not_a_digest_day(digest_settings: Callable[..., Settings], engine: Engine) -> None:
    report = run_digest(digest_settings(days=["mon", "thursday"]), engine, clock=TUESDAY)
    assert report.message == "today is Tuesday; the digest runs on Monday, Thursday"


def test_too_few_entries(digest_settings: Callable[..., Settings], engine: Engine) -> None:
    fill(engine)
    report = run_digest(digest_settings(min_entries=4), engine, clock=TUESDAY)
    assert (report.status, report.message) == (
        "skipped",
        "only 3 new inbox entries (min_entries is 4); no digest drafted",
    )
    assert all(e.used_in is None for e in list_entries(engine))


def test_digest_drafted_for_the_editor(
    digest_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = digest_settings()
    fill(engine)
    report = run_digest(settings, engine, clock=TUESDAY)
    assert (report.status, report.slug, report.entries, report.problems) == (
        "drafted",
        "digest-2026-12-01",
        3,
        [],
    )
    assert report.message == (
        "drafted issues/digest-2026-12-01 from 3 entries; review it, then"
        " 'newsletter issue schedule digest-2026-12-01 --at ...'"
    )
    issue = load_issue(settings, "digest-2026-12-01")
    assert (issue.subject, issue.lists, len(issue.articles), issue.template) == (
        "Glow Notes digest: 1 December 2026",
        ("news",),
        3,
        "digest",
    )
    html = build_issue(settings, "digest-2026-12-01").web_html
    assert html.count('class="nl-card nl-entry"') == 3  # compact rows, no article bodies
    assert {e.used_in for e in list_entries(engine)} == {"digest-2026-12-01"}
    again = run_digest(settings, engine, clock=TUESDAY)
    assert (again.status, again.message) == (
        "skipped",
        "issues/digest-2026-12-01 exists already; nothing to do",
    )


def test_digest_scheduled(digest_settings: Callable[..., Settings], engine: Engine) -> None:
    settings = digest_settings(auto_schedule=True, max_entries=2, min_entries=2)
    fill(engine)
    add_audience(engine, settings, 1, list_slug="news")  # scheduling refuses an empty list
    report = run_digest(settings, engine, clock=TUESDAY)
    assert report.problems == []
    assert (report.status, report.entries) == ("scheduled", 2)
    assert report.message == (
        "drafted issues/digest-2026-12-01 from 2 entries and scheduled it for 2026-12-01 10:00 GMT"
    )
    edition = get_edition(engine, "digest-2026-12-01")
    assert (edition.status, edition.send_at) == (
        "scheduled",
        datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    )


def test_a_digest_for_an_empty_list_is_drafted_not_scheduled(
    digest_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = digest_settings(auto_schedule=True, max_entries=2, min_entries=2)
    fill(engine)
    report = run_digest(settings, engine, clock=TUESDAY)
    assert [p.split(" (")[0] for p in report.problems] == [
        "digest-2026-12-01 would go to 0 recipients: list 'news' has no confirmed, active "
        "subscriber"
    ]
    assert get_edition_or_none(engine) is None


def test_digest_time_already_past_schedules_next_minute(
    digest_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = digest_settings(auto_schedule=True, time="07:30")
    fill(engine)
    add_audience(engine, settings, 1, list_slug="news")
    report = run_digest(settings, engine, clock=TUESDAY)
    assert report.send_at == datetime(2026, 12, 1, 8, 1, tzinfo=UTC)


def test_bad_days(digest_settings: Callable[..., Settings], engine: Engine) -> None:
    with pytest.raises(ConfigError) as err:
        run_digest(digest_settings(days=["someday"]), engine, clock=TUESDAY)
    assert str(err.value) == (
        "newsletter.toml: digest.days: unknown day 'someday'"
        " (use mon, tue, wed, thu, fri, sat, sun or daily)"
    )


def test_check_errors_leave_the_digest_for_the_editor(
    digest_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = digest_settings(auto_schedule=True, min_entries=1)
    doc = RSS_20.replace(
        "<description>SPF 30 is the minimum, dermatologists say.</description>",
        "<description>&lt;p&gt;Skin concerns include:&lt;/p&gt;</description>",
    )
    fill(engine, doc)
    report = run_digest(settings, engine, clock=TUESDAY)
    assert report.status == "needs_editor"
    assert report.message == (
        "drafted issues/digest-2026-12-01 from 3 entries, but the check found 1 error(s);"
        " fix them, then schedule it by hand"
    )
    assert report.problems == [
        "issues/digest-2026-12-01/articles/03-sunscreen-every-day.md:12: this paragraph"
        " introduces a list that never comes: 'Skin concerns include:' (add the list after"
        " it, or rewrite the sentence)"
    ]


def get_edition_or_none(engine: Engine) -> object:
    return find_edition(engine, "digest-2026-12-01")
