"""What the studio's dashboard shows, in one call: every issue with its state, the next
sends and the running ones, the last issue's results, the list's growth, the latest
signups and unsubscribes, and the feeds with new entries in the inbox."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Engine

from pipeline.clock import Clock
from pipeline.config import Settings
from pipeline.feeds.inbox import list_entries
from pipeline.scheduling.listing import ScheduleListing, list_schedule
from pipeline.scheduling.overview import IssueState, issue_states
from pipeline.subscribers.queries import Counts, count_subscribers
from pipeline.subscribers.recent import Change, recent_signups, recent_unsubscribes
from pipeline.tracking.stats import EditionStats, WeekGrowth, list_growth, recent_editions


@dataclass(frozen=True)
class FeedNews:
    source: str
    new_entries: int


@dataclass(frozen=True)
class Dashboard:
    issues: list[IssueState]
    schedule: ScheduleListing
    last_results: EditionStats | None
    growth: list[WeekGrowth]
    counts: Counts
    signups: list[Change]
    unsubscribes: list[Change]
    feeds: list[FeedNews]


def dashboard(settings: Settings, engine: Engine, *, clock: Clock, weeks: int = 8) -> Dashboard:
    recent = recent_editions(engine, limit=1)
    unused = Counter(e.source_name or "(no feed)" for e in list_entries(engine, unused_only=True))
    return Dashboard(
        issues=issue_states(settings, engine),
        schedule=list_schedule(settings, engine, clock=clock, recent=5),
        last_results=recent[0] if recent else None,
        growth=list_growth(engine, weeks=weeks, now=clock.now()),
        counts=count_subscribers(engine),
        signups=recent_signups(engine),
        unsubscribes=recent_unsubscribes(engine),
        feeds=[FeedNews(name, n) for name, n in sorted(unused.items())],
    )
