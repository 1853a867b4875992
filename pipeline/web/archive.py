"""The public archive: sent issues at ``/``, each at ``/issues/{slug}``, and ``/feed.xml``.

Only editions whose status is ``sent`` appear. The page of an issue is its web version
(``editions.web_html``, rendered without anyone's personal links) inside the site's frame.
``/archive/{slug}/`` (the ``web_url`` the sending stage puts in emails) shows the same page,
and ``/archive/{slug}/<path>`` serves the issue's images, which emails link there.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from sqlalchemy import Engine, func, select

from pipeline.render.brand import BRAND_DIR
from pipeline.store.tables import editions
from pipeline.web.pages import WebContext, error_page, get_ctx, page

router = APIRouter()

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 20
SLUG = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"
_SLUG = re.compile(SLUG + r"\Z")


@dataclass(frozen=True)
class ArchivedIssue:
    slug: str
    subject: str
    sent_at: datetime


def _sent_at() -> object:
    return func.coalesce(
        editions.c.finished_at, editions.c.started_at, editions.c.send_at, editions.c.frozen_at
    )


def sent_issues(engine: Engine, limit: int = 500) -> list[ArchivedIssue]:
    """Sent editions, newest first."""
    when = _sent_at().label("sent_at")  # type: ignore[attr-defined]
    query = (
        select(editions.c.slug, editions.c.subject, when)
        .where(editions.c.status == "sent")
        .order_by(when.desc(), editions.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [ArchivedIssue(r.slug, r.subject, r.sent_at) for r in conn.execute(query)]


def latest_issue(engine: Engine) -> ArchivedIssue | None:
    found = sent_issues(engine, limit=1)
    return found[0] if found else None


def issue_web_html(engine: Engine, slug: str) -> tuple[ArchivedIssue, str] | None:
    when = _sent_at().label("sent_at")  # type: ignore[attr-defined]
    query = select(editions.c.slug, editions.c.subject, editions.c.web_html, when).where(
        editions.c.slug == slug, editions.c.status == "sent"
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return ArchivedIssue(row.slug, row.subject, row.sent_at), row.web_html


def issue_url(base_url: str, slug: str) -> str:
    return f"{base_url}/issues/{slug}"


@router.get("/", summary="The archive of sent issues")
async def archive_index(request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    issues = await run_in_threadpool(sent_issues, ctx.engine)
    return page(request, "archive.html", issues=issues)


@router.get("/issues/{slug}", summary="One sent issue, its web version")
async def issue_page(slug: str, request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    return await _issue(slug, request, ctx)


@router.get("/archive/{slug}", summary="One sent issue (without the trailing slash)")
@router.get("/archive/{slug}/", summary="One sent issue (the web link in emails)")
async def archive_issue_page(
    slug: str, request: Request, ctx: WebContext = Depends(get_ctx)
) -> Response:
    return await _issue(slug, request, ctx)


async def _issue(slug: str, request: Request, ctx: WebContext) -> Response:
    found = await run_in_threadpool(issue_web_html, ctx.engine, slug) if _SLUG.match(slug) else None
    if found is None:
        return error_page(request, 404, "There is no sent issue at this address.")
    issue, web_html = found
    return page(request, "issue.html", issue=issue, body=web_content(web_html))


_STYLE = re.compile(r"<style\b[^>]*>.*?</style>", re.S | re.I)
_BODY = re.compile(r"<body\b[^>]*>(.*)</body>", re.S | re.I)


def web_content(web_html: str) -> str:
    """The parts of a full web-version document that go inside our page: its <style>
    blocks and the inside of its <body> (the whole text when it is a fragment)."""
    body = _BODY.search(web_html)
    if body is None:
        return web_html
    head = web_html[: body.start()]
    return "".join(_STYLE.findall(head)) + body.group(1)


IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
}


def edition_exists(engine: Engine, slug: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(select(editions.c.id).where(editions.c.slug == slug)).first() is not None
        )


def issue_image(ctx: WebContext, slug: str, path: str) -> Path | None:
    """An image of a frozen (or sent) issue: ``issues/<slug>/<path>``, which is where the
    emails link it (``{base_url}/archive/<slug>/<path>``). Only image files inside the
    issue's folder; nothing for issues never frozen."""
    if not _SLUG.match(slug) or Path(path).suffix.lower() not in IMAGE_TYPES:
        return None
    folder = (ctx.settings.issues_dir / slug).resolve()
    target = (folder / path).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        return None
    return target if edition_exists(ctx.engine, slug) else None


@router.get("/archive/{slug}/{path:path}", summary="An image of an issue (linked from emails)")
async def archive_image(
    slug: str, path: str, request: Request, ctx: WebContext = Depends(get_ctx)
) -> Response:
    found = await run_in_threadpool(issue_image, ctx, slug, path)
    if found is None:
        return error_page(request, 404, "There is no image at this address.")
    return FileResponse(
        found,
        media_type=IMAGE_TYPES[found.suffix.lower()],
        headers={"Cache-Control": "public, max-age=86400"},
    )


BRAND_TYPES = {**IMAGE_TYPES, ".svg": "image/svg+xml", ".css": "text/css", ".woff2": "font/woff2"}


def brand_file(ctx: WebContext, path: str) -> Path | None:
    """A file of the brand kit under ``brand/`` (logo, social icons, web fonts), which
    emails and pages link at ``{base_url}/brand/<path>``."""
    if Path(path).suffix.lower() not in BRAND_TYPES:
        return None
    folder = ctx.settings.path(BRAND_DIR).resolve()
    target = (folder / path).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        return None
    return target


@router.get("/brand/{path:path}", summary="The brand kit's images and fonts (linked from emails)")
async def brand_asset(path: str, request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    found = brand_file(ctx, path)
    if found is None:
        return error_page(request, 404, "There is nothing at this address.")
    return FileResponse(
        found,
        media_type=BRAND_TYPES[found.suffix.lower()],
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/feed.xml", summary="An Atom feed of the archive")
async def feed(ctx: WebContext = Depends(get_ctx)) -> Response:
    issues = await run_in_threadpool(sent_issues, ctx.engine, FEED_SIZE)
    return Response(
        atom_feed(ctx.settings.newsletter.base_url, ctx.settings.newsletter.name, issues, ctx),
        media_type="application/atom+xml; charset=utf-8",
    )


def atom_feed(base_url: str, title: str, issues: list[ArchivedIssue], ctx: WebContext) -> bytes:
    """An Atom 1.0 document (RFC 4287) listing ``issues``."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    root = ET.Element(f"{{{ATOM}}}feed")
    sub(root, "title", title)
    sub(root, "subtitle", ctx.settings.newsletter.tagline)
    sub(root, "id", f"{base_url}/")
    sub(root, "link", href=f"{base_url}/feed.xml", rel="self", type="application/atom+xml")
    sub(root, "link", href=f"{base_url}/", rel="alternate", type="text/html")
    updated = issues[0].sent_at if issues else ctx.now()
    sub(root, "updated", updated.isoformat(timespec="seconds"))
    author = sub(root, "author")
    sub(author, "name", ctx.settings.sender.name)
    for issue in issues:
        entry = sub(root, "entry")
        sub(entry, "title", issue.subject)
        sub(entry, "id", issue_url(base_url, issue.slug))
        sub(entry, "link", href=issue_url(base_url, issue.slug), rel="alternate")
        sub(entry, "updated", issue.sent_at.isoformat(timespec="seconds"))
        sub(entry, "published", issue.sent_at.isoformat(timespec="seconds"))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
