"""The archive as a small site: the sent issues, newest first, with each one's preheader
and lead picture, a search over titles and text, pages of ten, and the Atom and RSS feeds.

    archive_page(engine, page=2, query="sunscreen")   -> ArchivePage (issues, page, pages)
    issue_web_html(engine, slug)                     -> (ArchivedIssue, web_html) or None
    atom_feed(settings, entries, now) / rss_feed(...) -> the feed documents (bytes)

Only editions whose status is ``sent`` appear. The preheader and the lead picture travel
in the web version itself (``<meta name="description">`` and ``<meta property="og:image">``,
written by ``render_web``), so the archive needs no column of its own for them.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from email.utils import format_datetime

from sqlalchemy import Engine, func, or_, select

from pipeline.config import Settings
from pipeline.content.dates import format_day, issue_day
from pipeline.store.tables import editions

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
PAGE_SIZE = 10
FEED_SIZE = 20
QUERY_MAX = 100
SCAN_LIMIT = 500


@dataclass(frozen=True)
class ArchivedIssue:
    slug: str
    subject: str
    sent_at: datetime  # the edition's send time, in the newsletter's time zone
    preheader: str = ""
    image: str = ""
    date: str = ""  # e.g. "1 December 2026" (pipeline.content.dates)


@dataclass(frozen=True)
class ArchivePage:
    issues: list[ArchivedIssue]
    page: int
    pages: int
    total: int
    query: str = ""


def _sent_at() -> object:
    """The edition's send time (``pipeline.content.dates.send_time``) in SQL."""
    return func.coalesce(editions.c.send_at, editions.c.frozen_at)


def _archived(slug: str, subject: str, sent_at: datetime, tz: tzinfo) -> ArchivedIssue:
    """An archived issue with its send time in the newsletter's time zone and its date
    by the one rule of ``pipeline.content.dates``."""
    local = sent_at.astimezone(tz)
    return ArchivedIssue(slug, subject, local, date=format_day(issue_day(tz, sent=local)))


_META = re.compile(r'<meta (name|property)="(description|og:image)" content="([^"]*)"\s*/?>')
_STYLE = re.compile(r"<style\b[^>]*>.*?</style>", re.S | re.I)
_BODY = re.compile(r"<body\b[^>]*>(.*)</body>", re.S | re.I)
_TAGS = re.compile(r"<[^>]+>")
_COMMENTS = re.compile(r"<!--.*?-->", re.S)
_SPACE = re.compile(r"\s+")


def web_meta(web_html: str) -> tuple[str, str]:
    """(preheader, lead picture URL) from the head of a web version (empty when absent)."""
    head = web_html[: max(web_html.find("</head>"), 0)]
    found = {m.group(2): html.unescape(m.group(3)) for m in _META.finditer(head)}
    return found.get("description", ""), found.get("og:image", "")


def web_content(web_html: str) -> str:
    """The parts of a full web-version document that go inside a page: its <style>
    blocks and the inside of its <body> (the whole text when it is a fragment)."""
    body = _BODY.search(web_html)
    if body is None:
        return web_html
    head = web_html[: body.start()]
    return "".join(_STYLE.findall(head)) + body.group(1)


def web_body(web_html: str) -> str:
    """The inside of the web version's <body>, without styles or comments (for feeds)."""
    body = _BODY.search(web_html)
    return _COMMENTS.sub("", body.group(1) if body else _STYLE.sub("", web_html)).strip()


def text_of(web_html: str) -> str:
    """The visible words of a web version, for the search."""
    body = _BODY.search(web_html)
    inner = _COMMENTS.sub("", body.group(1) if body else web_html)
    return _SPACE.sub(" ", html.unescape(_TAGS.sub(" ", _STYLE.sub(" ", inner)))).strip()


def clean_query(query: str) -> str:
    return _SPACE.sub(" ", query).strip()[:QUERY_MAX]


def _with_meta(issue: ArchivedIssue, web_html: str) -> ArchivedIssue:
    preheader, image = web_meta(web_html)
    return replace(issue, preheader=preheader, image=image)


def sent_issues(
    engine: Engine, limit: int = SCAN_LIMIT, *, tz: tzinfo = UTC
) -> list[ArchivedIssue]:
    """Sent editions, newest first (without preheader and picture: see archive_page)."""
    when = _sent_at().label("sent_at")  # type: ignore[attr-defined]
    query = (
        select(editions.c.slug, editions.c.subject, when)
        .where(editions.c.status == "sent")
        .order_by(when.desc(), editions.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_archived(r.slug, r.subject, r.sent_at, tz) for r in conn.execute(query)]


def latest_issue(engine: Engine, *, tz: tzinfo = UTC) -> ArchivedIssue | None:
    found = sent_issues(engine, limit=1, tz=tz)
    return found[0] if found else None


def _web_html(engine: Engine, slugs: list[str]) -> dict[str, str]:
    if not slugs:
        return {}
    query = select(editions.c.slug, editions.c.web_html).where(editions.c.slug.in_(slugs))
    with engine.connect() as conn:
        return {r.slug: r.web_html or "" for r in conn.execute(query)}


def _matching(engine: Engine, query: str, tz: tzinfo) -> list[ArchivedIssue]:
    """Sent issues whose subject or text holds every word of ``query``."""
    words = [w.lower() for w in query.split()]
    when = _sent_at().label("sent_at")  # type: ignore[attr-defined]
    conditions = []
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                func.lower(editions.c.subject).like(pattern, escape="\\"),
                func.lower(editions.c.web_html).like(pattern, escape="\\"),
            )
        )
    select_query = (
        select(editions.c.slug, editions.c.subject, editions.c.web_html, when)
        .where(editions.c.status == "sent", *conditions)
        .order_by(when.desc(), editions.c.id.desc())
        .limit(SCAN_LIMIT)
    )
    found = []
    with engine.connect() as conn:
        for row in conn.execute(select_query):
            text = f"{row.subject} {text_of(row.web_html or '')}".lower()
            if all(word in text for word in words):  # not only inside markup
                found.append(
                    _with_meta(
                        _archived(row.slug, row.subject, row.sent_at, tz), row.web_html or ""
                    )
                )
    return found


def archive_page(
    engine: Engine,
    page: int = 1,
    query: str = "",
    size: int = PAGE_SIZE,
    *,
    tz: tzinfo = UTC,
) -> ArchivePage:
    """One page of the archive's index, newest first; ``query`` keeps the issues whose
    title or text holds every word of it (case-insensitive)."""
    query = clean_query(query)
    issues = _matching(engine, query, tz) if query else sent_issues(engine, tz=tz)
    total = len(issues)
    pages = max(1, -(-total // size))
    chosen = issues[(page - 1) * size : page * size]
    if not query:
        bodies = _web_html(engine, [i.slug for i in chosen])
        chosen = [_with_meta(i, bodies.get(i.slug, "")) for i in chosen]
    return ArchivePage(chosen, page, pages, total, query)


def issue_web_html(
    engine: Engine, slug: str, *, tz: tzinfo = UTC
) -> tuple[ArchivedIssue, str] | None:
    when = _sent_at().label("sent_at")  # type: ignore[attr-defined]
    query = select(editions.c.slug, editions.c.subject, editions.c.web_html, when).where(
        editions.c.slug == slug, editions.c.status == "sent"
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    web_html = row.web_html or ""
    return _with_meta(_archived(row.slug, row.subject, row.sent_at, tz), web_html), web_html


def issue_url(base_url: str, slug: str) -> str:
    return f"{base_url}/issues/{slug}"


def feed_entries(
    engine: Engine, limit: int = FEED_SIZE, *, tz: tzinfo = UTC
) -> list[tuple[ArchivedIssue, str]]:
    """The newest sent issues with their web versions, for the feeds (dates in ``tz``)."""
    issues = sent_issues(engine, limit, tz=tz)
    bodies = _web_html(engine, [i.slug for i in issues])
    return [(_with_meta(i, bodies.get(i.slug, "")), bodies.get(i.slug, "")) for i in issues]


def atom_feed(settings: Settings, entries: list[tuple[ArchivedIssue, str]], now: datetime) -> bytes:
    """An Atom 1.0 document (RFC 4287): per issue its preheader as summary and its web
    version as content."""
    base_url = settings.newsletter.base_url
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    root = ET.Element(f"{{{ATOM}}}feed")
    sub(root, "title", settings.newsletter.name)
    sub(root, "subtitle", settings.newsletter.tagline)
    sub(root, "id", f"{base_url}/")
    sub(root, "link", href=f"{base_url}/feed.xml", rel="self", type="application/atom+xml")
    sub(root, "link", href=f"{base_url}/", rel="alternate", type="text/html")
    updated = entries[0][0].sent_at if entries else now
    sub(root, "updated", updated.isoformat(timespec="seconds"))
    author = sub(root, "author")
    sub(author, "name", settings.sender.name)
    for issue, web_html in entries:
        entry = sub(root, "entry")
        sub(entry, "title", issue.subject)
        sub(entry, "id", issue_url(base_url, issue.slug))
        sub(entry, "link", href=issue_url(base_url, issue.slug), rel="alternate")
        sub(entry, "updated", issue.sent_at.isoformat(timespec="seconds"))
        sub(entry, "published", issue.sent_at.isoformat(timespec="seconds"))
        if issue.preheader:
            sub(entry, "summary", issue.preheader)
        if web_html:
            sub(entry, "content", web_body(web_html), type="html")
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def rss_feed(settings: Settings, entries: list[tuple[ArchivedIssue, str]], now: datetime) -> bytes:
    """An RSS 2.0 document: per issue its preheader as description and its web version
    as ``content:encoded``."""
    base_url = settings.newsletter.base_url
    ET.register_namespace("atom", ATOM)
    ET.register_namespace("content", CONTENT)
    root = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(root, "channel")

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, tag, attrs)
        if text is not None:
            el.text = text
        return el

    sub(channel, "title", settings.newsletter.name)
    sub(channel, "link", f"{base_url}/")
    sub(channel, "description", settings.newsletter.tagline)
    sub(channel, "language", settings.newsletter.language)
    updated = entries[0][0].sent_at if entries else now
    sub(channel, "lastBuildDate", format_datetime(updated))
    sub(
        channel,
        f"{{{ATOM}}}link",
        href=f"{base_url}/rss.xml",
        rel="self",
        type="application/rss+xml",
    )
    for issue, web_html in entries:
        item = sub(channel, "item")
        sub(item, "title", issue.subject)
        sub(item, "link", issue_url(base_url, issue.slug))
        sub(item, "guid", issue_url(base_url, issue.slug), isPermaLink="true")
        sub(item, "pubDate", format_datetime(issue.sent_at))
        if issue.preheader:
            sub(item, "description", issue.preheader)
        if web_html:
            sub(item, f"{{{CONTENT}}}encoded", web_body(web_html))
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data
