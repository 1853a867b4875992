"""feedparser's own test feeds (tests/data/corpus/feeds), served with the HTTP headers their
original tests simulated, fetched into the inbox in one run: no unhandled error, nothing
unsafe stored. The counts are the figures quoted in the project's notes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert

from pipeline.config import Settings
from pipeline.feeds.inbox import list_entries
from pipeline.feeds.parse import parse_feed
from pipeline.feeds.refresh import refresh_feeds
from pipeline.store.tables import feeds
from tests.conftest import DATA
from tests.feeds.safety import assert_safe
from tests.feeds.server import FeedServer

CORPUS = DATA / "corpus" / "feeds"
SKIP_SUFFIXES = (".txt", ".tsv", ".dat")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def corpus_files() -> list[tuple[str, dict[str, str]]]:
    headers: dict[str, dict[str, str]] = {}
    for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]:
        path, _sha, simulated, *_ = line.split("\t")
        pairs = [h.partition(":") for h in simulated.split("|") if ":" in h]
        headers[path] = {k.strip(): v.strip() for k, _, v in pairs}
    files = sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and not p.name.endswith(SKIP_SUFFIXES) and not p.name.startswith("LICENSE")
    )
    return [(name, headers.get(name, {})) for name in files]


def test_corpus_is_complete() -> None:
    files = corpus_files()
    assert len(files) == 279  # 278 from feedparser + html5lib's cases as one RSS file
    assert sum(1 for _, h in files if h) == 50


@pytest.mark.slow
def test_every_corpus_feed_fetches_safely(
    feed_server: FeedServer, make_settings: Callable[..., Settings], sqlite_engine: Engine
) -> None:
    """On SQLite only: the sweep tests the feed stage, not the database."""
    engine = sqlite_engine
    # The real size cap (one sanitiser case is 120 KB) and more fetches at once.
    settings = make_settings(**{"database.url": str(engine.url), "feeds.concurrency": 32})
    files = corpus_files()
    rows = []
    for name, headers in files:
        url = feed_server.add("/" + name, (CORPUS / name).read_bytes(), headers=headers)
        rows.append({"url": url, "name": name, "tags": [], "origin": "cli", "created_at": NOW})
    with engine.begin() as conn:  # 279 feeds in one statement
        conn.execute(insert(feeds), rows)
    outcomes = refresh_feeds(settings, engine)
    assert len(outcomes) == len(files)
    statuses = Counter(o.status for o in outcomes)
    with_entries = sum(1 for o in outcomes if o.entries)
    with_warning = sum(1 for o in outcomes if o.warning and o.entries)
    empty_warned = sum(1 for o in outcomes if o.warning and o.status == "empty")
    broken = [o.feed.name for o in outcomes if o.status == "error"]
    print(
        f"\ncorpus: {len(files)} feeds, {with_entries} yielded entries "
        f"({with_warning} of them with a not-well-formed warning), "
        f"{len(broken)} reported broken, {statuses['empty']} with no entries "
        f"({empty_warned} of them not well-formed)"
    )
    odd = [
        (o.feed.name, o.error)
        for o in outcomes
        if o.error and not o.error.startswith("not a usable feed: ")
    ]
    assert odd == []
    # Entries with no title and nothing to read are not articles (issue 11): 8 corpus
    # feeds hold only such entries (one of them also not well-formed, so now broken).
    assert (with_entries, with_warning, len(broken)) == (143, 11, 8)
    assert (statuses["empty"], empty_warned) == (128, 20)

    stored = list_entries(engine)
    parsed = sum(o.entries for o in outcomes)
    print(f"corpus: {parsed} entries parsed, {len(stored)} stored after de-duplication")
    assert parsed == 227 and len(stored) >= 200  # 235 before the 8 empty entries were dropped
    for entry in stored:
        assert_safe(entry.summary_html, entry.guid)
        assert_safe(entry.content_html, entry.guid)
        if entry.image_url:
            assert entry.image_url.startswith(("http://", "https://")), entry.image_url
        assert entry.link == "" or entry.link.startswith(("http://", "https://")), entry.link


def test_corpus_sanitisation_cases_parse_clean_from_files() -> None:
    """The sanitize folder and html5lib's cases read straight from disk (no HTTP headers),
    with data: images allowed, which opens one more door to check."""
    names = [n for n, _ in corpus_files() if "sanitize" in n]
    assert len(names) == 160
    count = 0
    for name in names:
        feed = parse_feed((CORPUS / name).read_bytes(), source=name, allow_data_images=True)
        for entry in feed.entries:
            assert_safe(entry.summary_html, name)
            assert_safe(entry.content_html, name)
            count += 1
    assert count > 200
