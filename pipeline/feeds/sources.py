"""Feed sources: the ``feeds`` table. Added from the command line (origin ``cli``) or
listed in newsletter.toml ``[[feeds.sources]]`` (origin ``config``, synced before each fetch).

A source is an http(s) URL, a ``file://`` URL or a local path (stored absolute).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update

from pipeline.config import Settings
from pipeline.errors import FeedError
from pipeline.store.rows import from_row
from pipeline.store.tables import feeds, utcnow

NAME_MAX = 200
ETAG_MAX = 300
LAST_MODIFIED_MAX = 100


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    name: str
    tags: list[str]
    origin: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetched_at: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.url


@dataclass(frozen=True)
class SyncReport:
    added: int
    updated: int
    removed: int


def _feed(row: Row[Any]) -> Feed:
    return from_row(Feed, row, tags=list(row.tags or []))


def normalise_source(url: str, root: Path | None = None, *, must_exist: bool = True) -> str:
    """The form a source is stored in: URLs as given, local paths made absolute."""
    text = url.strip()
    if not text:
        raise FeedError(
            "a feed needs a URL or a file path", fix="e.g. https://example.com/feed.xml"
        )
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("http", "https"):
        if not urlsplit(text).netloc:
            raise FeedError(
                f"{text!r} has no host name", fix="use a URL like https://example.com/feed.xml"
            )
        return text
    if scheme == "file":
        return text
    if len(scheme) > 1:  # one letter would be a Windows drive
        raise FeedError(
            f"unsupported feed URL scheme {scheme + ':'!r} in {text!r}",
            fix="use an http(s):// or file:// URL, or a local file path",
        )
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (root or Path.cwd()) / path
    path = path.resolve()
    if must_exist and not path.is_file():
        raise FeedError(f"no feed file at {path}", fix="check the path, or give an http(s) URL")
    return str(path)


def clean_tags(tags: Sequence[str]) -> list[str]:
    """Tags stripped, lower-cased, without blanks or repeats, in their first order."""
    seen: list[str] = []
    for tag in tags:
        for part in tag.split(","):
            value = part.strip().lower()
            if value and value not in seen:
                seen.append(value)
    return seen


def list_feeds(engine: Engine) -> list[Feed]:
    with engine.connect() as conn:
        return [_feed(r) for r in conn.execute(select(feeds).order_by(feeds.c.id))]


def get_feed(engine: Engine, url_or_id: str) -> Feed | None:
    with engine.connect() as conn:
        row = conn.execute(select(feeds).where(feeds.c.url == url_or_id)).first()
        if row is None and url_or_id.isdigit():
            row = conn.execute(select(feeds).where(feeds.c.id == int(url_or_id))).first()
        if row is None:
            row = conn.execute(select(feeds).where(feeds.c.name == url_or_id)).first()
    return _feed(row) if row is not None else None


def add_feed(
    engine: Engine,
    url: str,
    *,
    name: str = "",
    tags: Sequence[str] = (),
    origin: str = "cli",
    root: Path | None = None,
) -> Feed:
    """Add a source; refuses a URL that is already there."""
    source = normalise_source(url, root)
    if len(name.strip()) > NAME_MAX:
        raise FeedError(
            f"the feed name is {len(name.strip())} characters long",
            fix=f"use at most {NAME_MAX}",
        )
    with engine.begin() as conn:
        exists = conn.execute(select(feeds.c.id).where(feeds.c.url == source)).first()
        if exists is not None:
            raise FeedError(
                f"the feed {source} is already added",
                fix="see 'newsletter feeds list'; remove it first to change it",
            )
        conn.execute(
            insert(feeds).values(
                url=source,
                name=name.strip(),
                tags=clean_tags(tags),
                origin=origin,
                created_at=utcnow(),
            )
        )
    found = get_feed(engine, source)
    assert found is not None
    return found


def remove_feed(engine: Engine, url_or_id: str, *, root: Path | None = None) -> Feed:
    """Remove a source (its inbox entries stay). Accepts the URL, the id or the name."""
    feed = get_feed(engine, url_or_id)
    if feed is None:
        try:
            feed = get_feed(engine, normalise_source(url_or_id, root, must_exist=False))
        except FeedError:
            feed = None
    if feed is None:
        raise FeedError(f"no feed {url_or_id!r}", fix="see 'newsletter feeds list' for the URLs")
    if feed.origin == "config":
        raise FeedError(
            f"the feed {feed.url} comes from newsletter.toml",
            fix="remove it from [[feeds.sources]] in newsletter.toml instead",
        )
    with engine.begin() as conn:
        conn.execute(delete(feeds).where(feeds.c.id == feed.id))
    return feed


def sync_config_feeds(settings: Settings, engine: Engine) -> SyncReport:
    """Make the config-origin feeds match ``[[feeds.sources]]`` (idempotent)."""
    wanted: dict[str, tuple[str, list[str]]] = {}
    for source in settings.feeds.sources:
        url = normalise_source(source.url, settings.root, must_exist=False)
        wanted[url] = (source.name.strip()[:NAME_MAX], clean_tags(source.tags))
    added = updated = removed = 0
    with engine.begin() as conn:
        rows = {r.url: r for r in conn.execute(select(feeds))}
        for url, (name, tags) in wanted.items():
            row = rows.get(url)
            if row is None:
                conn.execute(
                    insert(feeds).values(
                        url=url, name=name, tags=tags, origin="config", created_at=utcnow()
                    )
                )
                added += 1
            elif row.origin != "config" or row.name != name or list(row.tags) != tags:
                conn.execute(
                    update(feeds)
                    .where(feeds.c.id == row.id)
                    .values(name=name, tags=tags, origin="config")
                )
                updated += 1
        for url, row in rows.items():
            if row.origin == "config" and url not in wanted:
                conn.execute(delete(feeds).where(feeds.c.id == row.id))
                removed += 1
    return SyncReport(added=added, updated=updated, removed=removed)


def record_fetch(
    engine: Engine | Connection,
    feed_id: int,
    *,
    at: datetime,
    status: str,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    """Remember how the last fetch went (and the validators for the next conditional GET)."""
    values: dict[str, object] = {"last_fetched_at": at, "last_status": status, "last_error": error}
    if status == "ok":
        # Validators too long for their columns are not kept (the next fetch is a full GET).
        values["etag"] = etag if etag and len(etag) <= ETAG_MAX else None
        values["last_modified"] = (
            last_modified if last_modified and len(last_modified) <= LAST_MODIFIED_MAX else None
        )
    statement = update(feeds).where(feeds.c.id == feed_id).values(**values)
    if isinstance(engine, Engine):
        with engine.begin() as conn:
            conn.execute(statement)
    else:
        engine.execute(statement)
