"""Drafting an issue folder from unused inbox entries (``issue new SLUG --from-feeds``).

Each entry becomes ``articles/NN-<title>.md``: front matter (title, summary, image,
image_alt, link, author, tags, source, source_link) and the sanitised HTML converted to
Markdown, for the editor to edit. The entries are then marked ``used_in=<slug>`` so the next
draft does not repeat them.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from markdownify import markdownify
from sqlalchemy import Engine

from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.content.issues import DEFAULT_TEMPLATE, new_issue, write_article
from pipeline.errors import FeedError
from pipeline.feeds.inbox import InboxEntry, list_entries, mark_used, strip_tracking
from pipeline.feeds.sanitize import html_to_text

SUBJECT_MAX = 78
SUMMARY_MAX = 280
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)
_ALT = re.compile(r"\balt=\"([^\"]*)\"", re.I)
_SRC = re.compile(r"\bsrc=\"([^\"]*)\"", re.I)
_HREF = re.compile(r"(\bhref=\")([^\"]*)(\")", re.I)


def slugify(text: str, length: int = 50) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return slug[:length].rstrip("-") or "article"


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:-") + "…"


def _with_alt(fragment: str, fallback: str) -> str:
    """Give every image an alt text (the issue check refuses images without one)."""

    def fix(match: re.Match[str]) -> str:
        tag = match.group(0)
        found = _ALT.search(tag)
        if found and found.group(1).strip():
            return tag
        alt = html.escape(fallback, quote=True)
        if found:
            return tag[: found.start()] + f'alt="{alt}"' + tag[found.end() :]
        return tag[:-1].rstrip("/").rstrip() + f' alt="{alt}">'

    return _IMG_TAG.sub(fix, fragment)


SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
# [text](url "title") and ![alt](url), the URL with at most one level of parentheses
_MD_LINK = re.compile(
    r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?((?:[^()\s<>]|\([^()]*\))*)>?"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.\-]*:[^<>\s]*)>")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t].*)?$", re.MULTILINE)


def _unsafe(url: str) -> bool:
    """True when ``url`` has a scheme other than http, https or mailto (javascript:,
    data:, vbscript:, ...), also when hidden by entities, case or control characters."""
    plain = "".join(c for c in html.unescape(url) if c.isprintable() and not c.isspace())
    found = _SCHEME.match(plain.lower())
    return found is not None and found.group(1) not in SAFE_SCHEMES


def drop_unsafe_links(markdown: str) -> str:
    """Markdown with every link or image whose URL has an unsafe scheme turned into its
    text (feeds are untrusted: a ``[x](javascript:...)`` in a draft is one template change
    from a live link in every inbox)."""

    def link(match: re.Match[str]) -> str:
        return match.group(2) if _unsafe(match.group(3)) else match.group(0)

    def autolink(match: re.Match[str]) -> str:
        return "" if _unsafe(match.group(1)) else match.group(0)

    def reference(match: re.Match[str]) -> str:
        return "" if _unsafe(match.group(1)) else match.group(0)

    markdown = _MD_LINK.sub(link, markdown)
    markdown = _AUTOLINK.sub(autolink, markdown)
    return _REFERENCE.sub(reference, markdown)


def _untracked_links(fragment: str) -> str:
    """Inline links without tracking parameters (utm_*, ...), as ``link:`` is."""

    def fix(match: re.Match[str]) -> str:
        url = strip_tracking(html.unescape(match.group(2)))
        return match.group(1) + html.escape(url, quote=True) + match.group(3)

    return _HREF.sub(fix, fragment)


def _without_picture(fragment: str, image_url: str | None) -> str:
    """Drop the body's copy of the entry's picture: ``image:`` already shows it once."""
    if not image_url:
        return fragment
    wanted = strip_tracking(image_url)

    def fix(match: re.Match[str]) -> str:
        src = _SRC.search(match.group(0))
        same = src is not None and strip_tracking(html.unescape(src.group(1))) == wanted
        return "" if same else match.group(0)

    return _IMG_TAG.sub(fix, fragment)


def entry_markdown(entry: InboxEntry) -> str:
    """The entry's sanitised HTML as Markdown: its picture left to ``image:`` (shown once),
    inline links without tracking parameters."""
    source = entry.source_name or "the source"
    fragment = _untracked_links(_without_picture(entry.html, entry.image_url))
    fragment = _with_alt(fragment, f"Image from {source}")
    text = markdownify(fragment, heading_style="ATX", bullets="-", strip=["span", "div"])
    text = drop_unsafe_links(re.sub(r"\n{3,}", "\n\n", text).strip())
    return text or drop_unsafe_links(html_to_text(entry.summary_html)) or entry.title


def entry_front_matter(entry: InboxEntry) -> dict[str, object]:
    link = strip_tracking(entry.link)
    parts = urlsplit(link)
    site = f"{parts.scheme}://{parts.netloc.lower()}/" if parts.scheme and parts.netloc else ""
    summary = html_to_text(entry.summary_html) if entry.content_html else ""
    return {
        "title": entry.title or "Untitled",
        "summary": shorten(summary, SUMMARY_MAX),
        "image": entry.image_url or "",
        "image_alt": (entry.image_alt or entry.title) if entry.image_url else "",
        "link": link,
        "author": entry.author,
        "tags": list(entry.tags),
        "source": entry.source_name,
        "source_link": site,
    }


def draft_issue(
    settings: Settings,
    engine: Engine,
    slug: str,
    entries: Sequence[InboxEntry],
    *,
    now: datetime,
    subject: str = "",
    lists: list[str] | None = None,
    intro_md: str = "",
    template: str = DEFAULT_TEMPLATE,
) -> Path:
    """Write ``issues/<slug>/`` from ``entries`` and mark them used; returns the folder.
    ``template`` is the issue's layout (the digest passes ``digest.template``)."""
    if not entries:
        raise FeedError("no entries to draft from", fix="run 'newsletter feeds fetch' first")
    first = entries[0].title or "news from our sources"
    folder = new_issue(
        settings,
        slug,
        subject=subject or shorten(f"{settings.newsletter.name}: {first}", SUBJECT_MAX),
        preheader=shorten(" · ".join(e.title for e in entries[1:4] if e.title), 120),
        lists=lists,
        intro_md=intro_md or "Hello! Here is what caught our eye in beauty news this time.",
        template=template,
    )
    for number, entry in enumerate(entries, start=1):
        name = f"{number:02d}-{slugify(entry.title)}.md"
        write_article(folder, name, entry_front_matter(entry), entry_markdown(entry))
    mark_used(engine, [e.id for e in entries], slug, at=now)
    return folder


def draft_issue_from_inbox(
    settings: Settings,
    engine: Engine,
    slug: str,
    *,
    since: timedelta | None,
    tags: list[str],
    limit: int,
    clock: Clock | None = None,
) -> Path:
    """Draft ``issues/<slug>/`` from the newest unused inbox entries (published or fetched
    within ``since``, with any of ``tags``, at most ``limit``); returns the folder."""
    now = (clock or SystemClock()).now()
    if limit < 1:
        raise FeedError(f"--limit must be 1 or more, not {limit}", fix="e.g. --limit 5")
    entries = list_entries(
        engine,
        since=now - since if since is not None else None,
        tags=tags,
        unused_only=True,
        limit=limit,
    )
    if not entries:
        where = []
        if since is not None:
            where.append(f"from the last {describe_delta(since)}")
        if tags:
            where.append(f"tagged {', '.join(tags)}")
        scope = f" {' '.join(where)}" if where else ""
        raise FeedError(
            f"no unused inbox entries{scope}",
            fix="run 'newsletter feeds fetch', or widen --since / --tag",
        )
    return draft_issue(settings, engine, slug, entries, now=now)


def describe_delta(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_since(text: str) -> timedelta:
    """``7d``, ``12h``, ``2w``, ``30m`` as a timedelta (for --since)."""
    found = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text.lower())
    if not found:
        raise FeedError(
            f"cannot read --since {text!r}",
            fix="use a number and a unit: 30m, 12h, 7d or 2w",
        )
    size = {"m": 60, "h": 3600, "d": 86400, "w": 604800}[found.group(2)]
    return timedelta(seconds=int(found.group(1)) * size)
