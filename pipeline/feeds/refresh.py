"""``feeds fetch``: sync the standing feeds, fetch every feed, parse, store the new entries.

Each feed ends in one ``FeedOutcome``: ``ok`` (maybe with a warning when the feed was not
well-formed but still had entries), ``not_modified`` (304), ``empty`` (a valid feed with no
entries), or ``error`` (could not be fetched, or yielded nothing parseable). One feed's
failure never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.errors import FeedError
from pipeline.feeds.fetch import FetchRequest, FetchResult, fetch_all
from pipeline.feeds.inbox import recent_shingles, store_entries
from pipeline.feeds.parse import parse_feed
from pipeline.feeds.sources import Feed, list_feeds, record_fetch, sync_config_feeds


@dataclass
class FeedOutcome:
    feed: Feed
    status: str  # ok | not_modified | empty | error
    entries: int = 0  # entries in the feed
    added: int = 0
    duplicates: int = 0
    warning: str = ""
    error: str = ""


def refresh_feeds(
    settings: Settings,
    engine: Engine,
    *,
    only: Sequence[str] = (),
    clock: Clock | None = None,
    on_fetched: Callable[[FetchResult], None] | None = None,
    on_stored: Callable[[FeedOutcome], None] | None = None,
) -> list[FeedOutcome]:
    """Fetch every feed (or those whose URL or name is in ``only``) into the inbox."""
    clock = clock or SystemClock()
    sync_config_feeds(settings, engine)
    every = list_feeds(engine)
    unknown = [name for name in only if not any(name in (f.url, f.name) for f in every)]
    if unknown:
        raise FeedError(
            f"no feed {unknown[0]!r}",
            fix="give a URL or name from 'newsletter feeds list'",
        )
    feeds = [f for f in every if not only or f.url in only or f.name in only]
    requests = [FetchRequest(f.url, f.etag, f.last_modified) for f in feeds]
    results = fetch_all(settings, requests, on_fetched)
    now = clock.now()
    recent = recent_shingles(engine, now)
    outcomes: list[FeedOutcome] = []
    with engine.connect() as conn:  # one connection, one transaction per feed
        for feed, result in zip(feeds, results, strict=True):
            with conn.begin():
                outcome = _store(settings, conn, feed, result, now, recent)
                record_fetch(
                    conn,
                    feed.id,
                    at=now,
                    status=outcome.status,
                    error=outcome.error or outcome.warning or None,
                    etag=result.etag,
                    last_modified=result.last_modified,
                )
            outcomes.append(outcome)
            if on_stored is not None:
                on_stored(outcome)
    return outcomes


def _store(
    settings: Settings,
    conn: Connection,
    feed: Feed,
    result: FetchResult,
    now: datetime,
    recent: list[frozenset[str]],
) -> FeedOutcome:
    if result.status == "not_modified":
        return FeedOutcome(feed, "not_modified")
    if not result.ok:
        return FeedOutcome(feed, "error", error=result.error)
    parsed = parse_feed(
        result.content,
        source=feed.url,
        final_url=result.final_url,
        content_type=result.content_type,
        allow_data_images=settings.feeds.allow_data_images,
    )
    if parsed.broken:
        return FeedOutcome(feed, "error", error=f"not a usable feed: {parsed.problem}")
    if not parsed.entries:
        warning = f"not well-formed: {parsed.problem}" if parsed.problem else ""
        return FeedOutcome(feed, "empty", warning=warning)
    report = store_entries(conn, feed, parsed.entries, now=now, recent=recent)
    warning = f"not well-formed, entries kept: {parsed.problem}" if parsed.bozo else ""
    return FeedOutcome(
        feed,
        "ok",
        entries=len(parsed.entries),
        added=report.added,
        duplicates=report.duplicates,
        warning=warning,
    )
