"""Writing in the browser: create an issue, edit issue.md and its articles with the email
preview beside the editor, upload images, reorder articles.

    GET  /admin/issues/new                     the form: a name, a subject, how to start
    POST /admin/issues/new                     creates issues/<slug>/ (content.issues.new_issue,
                                               or feeds.draft.draft_issue_from_inbox)
    GET  /admin/issues/{slug}/edit?file=REL    the editor (REL: issue.md or articles/NAME.md)
    POST /admin/issues/{slug}/preview          the preview and findings of the unsaved text (htmx)
    POST /admin/issues/{slug}/save             writes the file, refused when it changed meanwhile
    POST /admin/issues/{slug}/articles         adds an article
    POST /admin/issues/{slug}/move             moves an article up or down
    POST /admin/issues/{slug}/images           stores an uploaded image (htmx)
    GET  /admin/issues/{slug}/files/{path}     an image of the issue, for the preview

Every rule is in a stage: content.editing (files, versions, order, images, git commits),
sending.drafts (the preview: the same build and checks as ``issue check``).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.datastructures import UploadFile

from pipeline.accounts.users import Account
from pipeline.content.editing import (
    EditConflict,
    issue_files,
    issue_image,
    move_article,
    new_article,
    read_file,
    save_file,
    store_image,
)
from pipeline.content.issues import new_issue
from pipeline.errors import ContentError, NewsletterError
from pipeline.feeds.draft import draft_issue_from_inbox
from pipeline.render.findings import Finding
from pipeline.sending.drafts import preview_draft
from pipeline.studio.auth import current_user
from pipeline.studio.common import (
    ADMIN,
    audit,
    checked_form,
    editor_of,
    page,
    see_other,
    text_field,
)
from pipeline.web.pages import get_ctx

router = APIRouter()

#: Creating an issue from the feed inbox takes the entries of the last week.
FEED_DAYS = timedelta(days=7)


def files_url(slug: str) -> str:
    return f"{ADMIN}/issues/{slug}/files/"


@router.get("/issues/new", summary="The form that creates an issue")
async def new_form(request: Request, user: Account = Depends(current_user)) -> HTMLResponse:
    return page(request, "new_issue.html", user, error="", values={})


@router.post("/issues/new", summary="Create an issue folder")
async def create(request: Request, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request)
    slug = text_field(form, "slug").strip()
    subject = text_field(form, "subject").strip()
    start = text_field(form, "start", "skeleton")
    try:
        if start == "feeds":  # the newest unused inbox entries of the last week, at most 5
            await run_in_threadpool(
                lambda: draft_issue_from_inbox(
                    ctx.settings,
                    ctx.engine,
                    slug,
                    since=FEED_DAYS,
                    tags=[],
                    limit=5,
                    clock=ctx.clock,
                )
            )
        else:
            await run_in_threadpool(
                new_issue, ctx.settings, slug, subject=subject, sample_article=start == "skeleton"
            )
    except NewsletterError as exc:
        values = {"slug": slug, "subject": subject, "start": start}
        return page(request, "new_issue.html", user, 422, error=str(exc), values=values)
    audit(request, user, "issue.create", slug, start=start)
    return see_other(f"{ADMIN}/issues/{slug}/edit")


def _findings_by_file(slug: str, findings: list[Finding]) -> dict[str, list[Finding]]:
    """Findings keyed by the file of the issue they name (issue.md, articles/x.md; "" for
    the rest: templates, the brand)."""
    marker = f"issues/{slug}/"
    out: dict[str, list[Finding]] = {}
    for f in findings:
        rel = f.path.split(marker, 1)[1] if marker in f.path else ""
        out.setdefault(rel, []).append(f)
    return out


def _editor_page(
    request: Request,
    user: Account,
    slug: str,
    rel: str,
    text: str,
    version: str,
    *,
    status: int = 200,
    conflict: EditConflict | None = None,
    notice: str = "",
) -> HTMLResponse:
    ctx = get_ctx(request)
    return page(
        request,
        "editor.html",
        user,
        status,
        slug=slug,
        rel=rel,
        files=issue_files(ctx.settings, slug),
        text=text,
        version=version,
        conflict=conflict,
        notice=notice,
    )


@router.get("/issues/{slug}/edit", summary="Edit a file of an issue, with its preview")
async def edit(
    request: Request, slug: str, file: str = "issue.md", user: Account = Depends(current_user)
) -> HTMLResponse:
    ctx = get_ctx(request)
    try:
        text, version = read_file(ctx.settings, slug, file)
    except ContentError:
        raise HTTPException(404) from None
    saved = request.query_params.get("saved") == "1"
    return _editor_page(request, user, slug, file, text, version, notice="Saved." if saved else "")


@router.post("/issues/{slug}/preview", summary="The preview of unsaved text (htmx)")
async def preview(
    request: Request, slug: str, user: Account = Depends(current_user)
) -> HTMLResponse:
    ctx = get_ctx(request)
    form = await checked_form(request)
    rel = text_field(form, "file", "issue.md")
    text = text_field(form, "text")
    try:
        read_file(ctx.settings, slug, rel)
    except ContentError:
        raise HTTPException(404) from None
    result = await run_in_threadpool(
        preview_draft, ctx.settings, ctx.engine, slug, rel, text, files_url=files_url(slug)
    )
    by_file = _findings_by_file(slug, result.findings)
    return page(
        request,
        "preview.html",
        user,
        slug=slug,
        rel=rel,
        result=result,
        here=by_file.get(rel, []),
        elsewhere=[(name, fs) for name, fs in sorted(by_file.items()) if name != rel],
    )


@router.post("/issues/{slug}/save", summary="Save a file of an issue")
async def save(request: Request, slug: str, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request)
    rel = text_field(form, "file", "issue.md")
    text = text_field(form, "text")
    base = text_field(form, "version")
    try:
        await run_in_threadpool(
            lambda: save_file(ctx.settings, slug, rel, text, base=base, editor=editor_of(user))
        )
    except EditConflict as exc:
        # the editor's text stays in the editor; theirs is shown beside it, and saving again
        # (after merging) replaces the version now on disk
        return _editor_page(request, user, slug, rel, text, exc.version, status=409, conflict=exc)
    except ContentError:
        raise HTTPException(404) from None
    audit(request, user, "issue.save", f"{slug}/{rel}")
    return see_other(f"{ADMIN}/issues/{slug}/edit?file={rel}&saved=1")


@router.post("/issues/{slug}/articles", summary="Add an article to an issue")
async def add_article(
    request: Request, slug: str, user: Account = Depends(current_user)
) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request)
    try:
        rel = await run_in_threadpool(
            new_article, ctx.settings, slug, text_field(form, "title"), editor_of(user)
        )
    except ContentError as exc:
        text, version = read_file(ctx.settings, slug, "issue.md")
        return _editor_page(
            request, user, slug, "issue.md", text, version, status=422, notice=str(exc)
        )
    audit(request, user, "issue.add_article", f"{slug}/{rel}")
    return see_other(f"{ADMIN}/issues/{slug}/edit?file={rel}")


@router.post("/issues/{slug}/move", summary="Move an article up or down")
async def move(request: Request, slug: str, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request)
    rel = text_field(form, "article")
    step = -1 if text_field(form, "direction") == "up" else 1
    back = text_field(form, "file", "issue.md")
    try:
        await run_in_threadpool(move_article, ctx.settings, slug, rel, step, editor_of(user))
    except ContentError:
        raise HTTPException(404) from None
    audit(request, user, "issue.move_article", f"{slug}/{rel}", step=step)
    return see_other(f"{ADMIN}/issues/{slug}/edit?file={back}")


@router.post("/issues/{slug}/images", summary="Upload an image into the issue (htmx)")
async def upload(request: Request, slug: str, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request, files=1)
    upload = form.get("image")
    rel = text_field(form, "file", "issue.md")
    # htmx swaps 200 answers only: a refusal is a 200 with the message (role=alert)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return page(request, "upload_result.html", user, error="Choose an image.")
    data = await upload.read()
    try:
        stored = await run_in_threadpool(
            lambda: store_image(
                ctx.settings,
                slug,
                upload.filename or "image",
                data,
                text_field(form, "alt"),
                near=rel,
                editor=editor_of(user),
            )
        )
    except NewsletterError as exc:
        return page(request, "upload_result.html", user, error=str(exc))
    audit(request, user, "issue.upload_image", f"{slug}/{stored.rel}")
    return page(request, "upload_result.html", user, error="", stored=stored)


@router.get("/issues/{slug}/files/{path:path}", summary="An image of an issue (for the preview)")
async def issue_file(
    request: Request, slug: str, path: str, user: Account = Depends(current_user)
) -> Response:
    ctx = get_ctx(request)
    try:
        target = issue_image(ctx.settings, slug, path)
    except ContentError:
        raise HTTPException(404) from None
    return FileResponse(target, headers={"Cache-Control": "no-store"})
