"""The article inbox: storing feed entries once, listing them, marking them used.

An entry is a duplicate, and is not stored, when (in this order) its GUID is known, its
normalised link is known (tracking parameters, fragment and host case removed), or its text
is a near-duplicate (``pipeline.content.similarity``) of an entry fetched in the last
``RECENT_DAYS`` days or of one stored earlier in the same run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.content.similarity import THRESHOLD, overlap, shingles
from pipeline.feeds.parse import FeedEntry
from pipeline.feeds.sanitize import html_to_text
from pipeline.feeds.sources import Feed, clean_tags
from pipeline.store.rows import from_row
from pipeline.store.tables import inbox_entries

RECENT_DAYS = 30
RECENT_LIMIT = 2000

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
        "yclid", "igshid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
        "vero_id", "vero_conv", "rb_clickid", "s_cid", "ref_src", "__s", "ck_subscriber_id",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "ga_")


@dataclass(frozen=True)
class InboxEntry:
    id: int
    guid: str
    link: str
    title: str
    summary_html: str
    content_html: str
    author: str
    published_at: datetime | None
    image_url: str | None
    image_alt: str | None
    tags: list[str]
    source_name: str
    feed_id: int | None
    used_in: str | None
    fetched_at: datetime

    @property
    def html(self) -> str:
        return self.content_html or self.summary_html

    @property
    def text(self) -> str:
        return f"{self.title}\n{html_to_text(self.html)}"

    @property
    def when(self) -> datetime:
        return self.published_at or self.fetched_at


@dataclass
class StoreReport:
    added: int = 0
    duplicate_guid: int = 0
    duplicate_link: int = 0
    duplicate_text: int = 0
    added_ids: list[int] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.duplicate_guid + self.duplicate_link + self.duplicate_text


def _tracking(key: str) -> bool:
    return key.lower() in TRACKING_PARAMS or key.lower().startswith(TRACKING_PREFIXES)


def strip_tracking(url: str) -> str:
    """``url`` without tracking parameters (utm_*, fbclid, ...); the rest as it was."""
    parts = urlsplit(url.strip())
    if not parts.query:
        return url.strip()
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _tracking(k)]
    if len(kept) == len(pairs):
        return url.strip()
    return urlunsplit(parts._replace(query=urlencode(kept)))


def normalise_link(url: str) -> str:
    """``url`` without tracking parameters or fragment, scheme and host lower-cased,
    default port and a lone trailing slash on the path removed; '' for no link."""
    text = url.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracking(k)]
    path = parts.path or "/"
    if path != "/" and path.endswith("/"):
        path = path.rstrip("/")
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def _entry(row: Row[Any]) -> InboxEntry:
    return from_row(InboxEntry, row, tags=list(row.tags or []))


def recent_shingles(engine: Engine | Connection, now: datetime) -> list[frozenset[str]]:
    since = now - timedelta(days=RECENT_DAYS)
    query = (
        select(inbox_entries.c.title, inbox_entries.c.summary_html, inbox_entries.c.content_html)
        .where(inbox_entries.c.fetched_at >= since)
        .order_by(inbox_entries.c.id.desc())
        .limit(RECENT_LIMIT)
    )
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    else:
        rows = engine.execute(query).all()
    return [shingles(f"{r.title}\n{html_to_text(r.content_html or r.summary_html)}") for r in rows]


def store_entries(
    engine: Engine | Connection,
    feed: Feed,
    entries: Sequence[FeedEntry],
    *,
    now: datetime,
    recent: list[frozenset[str]] | None = None,
) -> StoreReport:
    """Store the entries of one feed that are not duplicates. ``recent`` (the shingles of
    recent entries) may be shared between calls of one run; it grows with each entry added.
    Given a Connection, the caller's transaction is used."""
    if not entries:
        return StoreReport()
    if isinstance(engine, Engine):
        with engine.begin() as conn:
            return store_entries(conn, feed, entries, now=now, recent=recent)
    conn = engine
    report = StoreReport()
    if recent is None:
        recent = recent_shingles(conn, now)
    source_tags = clean_tags(feed.tags)
    for entry in entries:
        guid = entry.guid
        link_key = normalise_link(entry.link)
        if conn.execute(select(inbox_entries.c.id).where(inbox_entries.c.guid == guid)).first():
            report.duplicate_guid += 1
            continue
        if (
            link_key
            and conn.execute(
                select(inbox_entries.c.id).where(inbox_entries.c.normalized_link == link_key)
            ).first()
        ):
            report.duplicate_link += 1
            continue
        marks = shingles(entry.text)
        if any(overlap(marks, other) >= THRESHOLD for other in recent):
            report.duplicate_text += 1
            continue
        values = {
            "feed_id": feed.id,
            "guid": guid,
            "link": entry.link,
            "normalized_link": link_key,
            "title": entry.title,
            "summary_html": entry.summary_html,
            "content_html": entry.content_html,
            "author": entry.author,
            "published_at": entry.published_at,
            "image_url": entry.image_url,
            "image_alt": entry.image_alt,
            "tags": clean_tags([*source_tags, *entry.tags]),
            "source_name": feed.label[:300],
            "fetched_at": now,
        }
        try:
            with conn.begin_nested():
                result = conn.execute(insert(inbox_entries).values(**values))
        except IntegrityError:  # another fetch stored the same GUID a moment ago
            report.duplicate_guid += 1
            continue
        report.added += 1
        key = result.inserted_primary_key
        report.added_ids.append(int(key[0]) if key else 0)
        recent.append(marks)
    return report


def list_entries(
    engine: Engine,
    *,
    since: datetime | None = None,
    tags: Iterable[str] = (),
    unused_only: bool = False,
    limit: int | None = None,
) -> list[InboxEntry]:
    """Inbox entries, newest first (by published time, else fetch time). ``tags``: an entry
    matches when it has any of them."""
    when = func.coalesce(inbox_entries.c.published_at, inbox_entries.c.fetched_at)
    query = select(inbox_entries).order_by(when.desc(), inbox_entries.c.id.desc())
    if since is not None:
        query = query.where(when >= since)
    if unused_only:
        query = query.where(inbox_entries.c.used_in.is_(None))
    wanted = set(clean_tags(list(tags)))
    with engine.connect() as conn:
        result = conn.execute(query)
        found: list[InboxEntry] = []
        for row in result:
            entry = _entry(row)
            if wanted and not wanted.intersection(entry.tags):
                continue
            found.append(entry)
            if limit is not None and len(found) >= limit:
                break
    return found


def mark_used(engine: Engine, entry_ids: Sequence[int], slug: str, *, at: datetime) -> int:
    """Mark entries as used in issue ``slug`` so the next draft skips them."""
    if not entry_ids:
        return 0
    with engine.begin() as conn:
        result = conn.execute(
            update(inbox_entries)
            .where(inbox_entries.c.id.in_(list(entry_ids)))
            .values(used_in=slug, used_at=at)
        )
    return int(result.rowcount or 0)
