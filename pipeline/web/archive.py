"""The public archive: sent issues at ``/`` (paginated, with search), each at
``/issues/{slug}``, and the feeds ``/feed.xml`` (Atom) and ``/rss.xml`` (RSS 2.0).

The stage ``pipeline.render.archive`` finds the issues and writes the feeds; these routes
only read the request and render the pages. The page of an issue is its web version
(``editions.web_html``, rendered without anyone's personal links) inside the site's frame,
with Open Graph and Twitter card tags and a canonical URL. ``/archive/{slug}/`` (the
``web_url`` the sending stage puts in emails) shows the same page, and
``/archive/{slug}/<path>`` serves the issue's images, which emails link there;
``/brand/<path>`` serves the brand kit's logo, icons and fonts.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import Engine, select

from pipeline.render.archive import (
    FEED_SIZE,
    QUERY_MAX,
    archive_page,
    atom_feed,
    feed_entries,
    issue_url,
    issue_web_html,
    latest_issue,
    rss_feed,
    sent_issues,
    web_content,
)
from pipeline.render.brand import BRAND_DIR
from pipeline.store.tables import editions
from pipeline.web.pages import BINARY, TEXT, WebContext, answers, error_page, get_ctx, page

router = APIRouter()

__all__ = ["issue_url", "latest_issue", "router", "sent_issues"]

SLUG = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"
_SLUG = re.compile(SLUG + r"\Z")
MAX_PAGE = 10_000


@router.get(
    "/",
    summary="The archive of sent issues (?page=N, ?q=words)",
    response_class=HTMLResponse,
    responses=answers(404),
)
async def archive_index(
    request: Request,
    page_number: int = Query(1, alias="page", ge=1, le=MAX_PAGE),
    q: str = Query("", max_length=QUERY_MAX),
    ctx: WebContext = Depends(get_ctx),
) -> Response:
    tz = ctx.settings.newsletter.tz
    found = await run_in_threadpool(lambda: archive_page(ctx.engine, page_number, q, tz=tz))
    base = ctx.settings.newsletter.base_url
    canonical = f"{base}/" + (f"?page={found.page}" if found.page > 1 and not found.query else "")
    status = 404 if found.page > found.pages else 200
    return page(request, "archive.html", status, archive=found, canonical=canonical)


@router.get(
    "/issues/{slug}",
    summary="One sent issue, its web version",
    response_class=HTMLResponse,
    responses=answers(404),
)
async def issue_page(slug: str, request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    return await _issue(slug, request, ctx)


@router.get(
    "/archive/{slug}",
    summary="One sent issue (without the trailing slash)",
    response_class=HTMLResponse,
    responses=answers(404),
    operation_id="archive_issue_page",
)
@router.get(
    "/archive/{slug}/",
    summary="One sent issue (the web link in emails)",
    response_class=HTMLResponse,
    responses=answers(404),
    operation_id="archive_issue_page_slash",
)
async def archive_issue_page(
    slug: str, request: Request, ctx: WebContext = Depends(get_ctx)
) -> Response:
    return await _issue(slug, request, ctx)


async def _issue(slug: str, request: Request, ctx: WebContext) -> Response:
    tz = ctx.settings.newsletter.tz
    found = (
        await run_in_threadpool(lambda: issue_web_html(ctx.engine, slug, tz=tz))
        if _SLUG.match(slug)
        else None
    )
    if found is None:
        return error_page(request, 404, "There is no sent issue at this address.")
    issue, web_html = found
    canonical = issue_url(ctx.settings.newsletter.base_url, issue.slug)
    return page(request, "issue.html", issue=issue, body=web_content(web_html), canonical=canonical)


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


@router.get(
    "/archive/{slug}/{path:path}",
    summary="An image of an issue (linked from emails)",
    response_class=Response,
    responses=answers(404, ok={"image/*": BINARY}),
)
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


@router.get(
    "/brand/{path:path}",
    summary="The brand kit's images and fonts (linked from emails)",
    response_class=Response,
    responses=answers(404, ok={"image/*": BINARY, "font/woff2": BINARY, "text/css": TEXT}),
)
async def brand_asset(path: str, request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    found = brand_file(ctx, path)
    if found is None:
        return error_page(request, 404, "There is nothing at this address.")
    return FileResponse(
        found,
        media_type=BRAND_TYPES[found.suffix.lower()],
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get(
    "/feed.xml",
    summary="An Atom feed of the archive (summaries and content)",
    response_class=Response,
    responses=answers(ok={"application/atom+xml": TEXT}),
)
async def feed(ctx: WebContext = Depends(get_ctx)) -> Response:
    tz = ctx.settings.newsletter.tz
    entries = await run_in_threadpool(lambda: feed_entries(ctx.engine, FEED_SIZE, tz=tz))
    return Response(
        atom_feed(ctx.settings, entries, ctx.now()),
        media_type="application/atom+xml; charset=utf-8",
    )


@router.get(
    "/rss.xml",
    summary="An RSS 2.0 feed of the archive (summaries and content)",
    response_class=Response,
    responses=answers(ok={"application/rss+xml": TEXT}),
)
async def rss(ctx: WebContext = Depends(get_ctx)) -> Response:
    tz = ctx.settings.newsletter.tz
    entries = await run_in_threadpool(lambda: feed_entries(ctx.engine, FEED_SIZE, tz=tz))
    return Response(
        rss_feed(ctx.settings, entries, ctx.now()),
        media_type="application/rss+xml; charset=utf-8",
    )
