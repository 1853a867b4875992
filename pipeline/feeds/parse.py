"""Parsing feed bytes with feedparser into ``FeedEntry`` values with sanitised HTML.

feedparser gets the raw bytes (and the HTTP Content-Type, which may name a charset), so it
decodes text itself: the HTTP charset, the XML declaration, a byte-order mark, and its
fallbacks when they disagree or lie. A feed that is not well-formed ("bozo") but still
yields entries is kept, with a warning; one that yields none is reported as broken.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from pipeline.feeds.sanitize import html_to_text, safe_url, sanitize_html

_IMG = re.compile(r"<img\b[^>]*>", re.I)
_SRC = re.compile(r"\ssrc=\"([^\"]+)\"")
_ALT = re.compile(r"\salt=\"([^\"]*)\"")


@dataclass
class FeedEntry:
    guid: str
    link: str
    title: str
    summary_html: str
    content_html: str
    author: str = ""
    published_at: datetime | None = None
    image_url: str | None = None
    image_alt: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Title and body as plain text (for near-duplicate checks)."""
        body = self.content_html or self.summary_html
        return f"{self.title}\n{html_to_text(body)}"


@dataclass
class ParsedFeed:
    title: str
    link: str
    entries: list[FeedEntry]
    bozo: bool = False
    problem: str = ""  # what feedparser found wrong, for the warning or the error
    encoding: str = ""

    @property
    def broken(self) -> bool:
        """Nothing usable: no entries, a problem, and not even a feed title."""
        return not self.entries and bool(self.problem) and not self.title


def _text(value: Any) -> str:
    return html_to_text(str(value)) if value else ""


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                year, month, day, hour, minute, second = parsed[:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None


def _http_link(value: Any) -> str:
    text = str(value or "").strip()
    parts = urlsplit(text)
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def _content(entry: Any) -> str:
    parts = entry.get("content") or []
    html_parts = [str(p.get("value", "")) for p in parts if p.get("value")]
    return "\n".join(html_parts)


def _image(
    entry: Any, content_html: str, summary_html: str, base: str, allow_data: bool
) -> tuple[str | None, str | None]:
    candidates: list[tuple[str, str | None]] = []
    for media in entry.get("media_content") or []:
        medium = str(media.get("medium", "")) or str(media.get("type", ""))
        if media.get("url") and (not medium or medium.startswith("image")):
            candidates.append((str(media["url"]), None))
    for thumb in entry.get("media_thumbnail") or []:
        if thumb.get("url"):
            candidates.append((str(thumb["url"]), None))
    for enclosure in entry.get("enclosures") or []:
        if str(enclosure.get("type", "")).startswith("image") and enclosure.get("href"):
            candidates.append((str(enclosure["href"]), None))
    for html_text in (content_html, summary_html):  # sanitised: attributes double-quoted
        for tag in _IMG.findall(html_text):
            src_found, alt_found = _SRC.search(tag), _ALT.search(tag)
            if src_found:
                alt_text = alt_found.group(1) if alt_found else None
                candidates.append((src_found.group(1), alt_text))
                break
    for url, alt in candidates:
        absolute = url
        if base and not urlsplit(url).scheme:
            absolute = urljoin(base, url)
        safe = safe_url(absolute, allow_data_images=allow_data, image=True)
        if safe:
            return html.unescape(safe), (html.unescape(alt) if alt else None)
    return None, None


def _guid(entry: Any, link: str, source: str, title: str, body: str) -> str:
    value = str(entry.get("id") or "").strip()
    if value:
        return value[:2000]
    if link:
        return link
    digest = hashlib.sha256(f"{source}\n{title}\n{body}".encode()).hexdigest()
    return f"sha256:{digest}"


def _entry(raw: Any, source: str, feed_link: str, allow_data: bool) -> FeedEntry:
    link = _http_link(raw.get("link"))
    base = link or feed_link
    summary = sanitize_html(
        str(raw.get("summary") or ""), base_url=base, allow_data_images=allow_data
    )
    content = sanitize_html(_content(raw), base_url=base, allow_data_images=allow_data)
    if content and html_to_text(content) == html_to_text(summary):
        summary = summary if len(summary) <= len(content) else content
    title = _text(raw.get("title"))
    image_url, image_alt = _image(raw, content, summary, base, allow_data)
    tags = [str(t.get("term") or t.get("label") or "").strip() for t in raw.get("tags") or []]
    author = _text(raw.get("author"))[:300]
    return FeedEntry(
        guid=_guid(raw, link, source, title, content or summary),
        link=link,
        title=title,
        summary_html=summary,
        content_html=content,
        author=author,
        published_at=_when(raw),
        image_url=image_url,
        image_alt=image_alt,
        tags=[t for t in tags if t],
    )


_XML_DECL = re.compile(rb"^(\s*<\?xml[^>]*?\bencoding\s*=\s*)([\"'])([A-Za-z0-9._:-]+)\2")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)[\"']?", re.I)
SINGLE_BYTE = ("latin_1", "iso8859", "cp125", "ascii", "mac_roman", "cp437", "cp850", "koi8")


def _single_byte(name: str) -> bool:
    try:
        codec = codecs.lookup(name).name.replace("-", "_")
    except LookupError:
        return False
    return codec.startswith(SINGLE_BYTE)


def repair_declared_encoding(content: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """Undo the commonest misdeclaration: UTF-8 bytes labelled as a single-byte charset
    (ISO-8859-1, windows-1252, ...). Such bytes would decode to mojibake ("CafÃ©") without
    any error. Valid multi-byte UTF-8 is very unlikely to be meant as Latin-1, so the label
    is corrected to UTF-8. Anything else is left to feedparser's own detection."""
    if content.isascii():
        return content, content_type
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return content, content_type
    declared = _XML_DECL.match(content)
    http = _CHARSET.search(content_type or "")
    names = [m.group(3 if m is declared else 1) for m in (declared, http) if m is not None]
    labels = [n.decode("ascii") if isinstance(n, bytes) else n for n in names]
    if not any(_single_byte(label) for label in labels):
        return content, content_type
    if declared is not None:
        content = _XML_DECL.sub(rb"\1\2utf-8\2", content, count=1)
    if http is not None and content_type is not None:
        content_type = _CHARSET.sub("charset=utf-8", content_type, count=1)
    return content, content_type


def parse_feed(
    content: bytes,
    *,
    source: str,
    final_url: str = "",
    content_type: str | None = None,
    allow_data_images: bool = False,
) -> ParsedFeed:
    """Parse feed bytes. ``source`` is the feed's stored URL (for GUIDs of entries that have
    neither id nor link); ``final_url`` the URL after redirects (the base for relative
    links); ``content_type`` the HTTP header, which may carry the charset."""
    content, content_type = repair_declared_encoding(content, content_type)
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    base = _http_link(final_url)
    if base:
        headers["content-location"] = base
        headers.setdefault("content-type", "application/xml")
    try:
        parsed = feedparser.parse(
            content,
            response_headers=headers,
            sanitize_html=True,
            resolve_relative_uris=False,  # sanitize_html resolves against the entry link
        )
    except Exception as exc:  # feedparser on hostile bytes: report the feed, go on
        return ParsedFeed("", "", [], bozo=True, problem=f"cannot be parsed: {exc}")
    feed = parsed.get("feed", {})
    feed_link = _http_link(feed.get("link")) or base
    entries = [
        entry
        for entry in (_entry(raw, source, feed_link, allow_data_images) for raw in parsed.entries)
        if entry.title or entry.image_url or html_to_text(entry.content_html or entry.summary_html)
    ]  # an entry with no title and nothing to read (a broken feed) is not an article
    problem = ""
    if parsed.get("bozo"):
        error = parsed.get("bozo_exception")
        problem = str(error) if error is not None else "not well-formed"
        problem = " ".join(problem.split())
    if not entries and not problem and not parsed.get("version"):
        problem = "not an RSS or Atom feed"
    return ParsedFeed(
        title=_text(feed.get("title")),
        link=feed_link,
        entries=entries,
        bozo=bool(parsed.get("bozo")),
        problem=problem,
        encoding=str(parsed.get("encoding") or ""),
    )
