"""The subscribers' pages: search, one person (lists, tags, fields, consent history, what
was sent and what happened), edit, unsubscribe, erase (after a confirmation; admins), CSV
import (admins) and export; the segments with their counts.

    GET  /admin/subscribers?q=...                 search, counts, segments, import, export
    GET  /admin/subscribers/export.csv            subscribers.exporting.export_csv
    POST /admin/subscribers/import                subscribers.importjobs.start_import (admins)
    GET  /admin/subscribers/imports/{job}         its progress (htmx), then what it did
    GET  /admin/subscribers/{public_id}           one person (subscribers.exporting.export_person)
    POST /admin/subscribers/{public_id}/edit      subscribers.editing.edit_subscriber
    POST /admin/subscribers/{public_id}/unsubscribe   subscribers.service.unsubscribe
    POST /admin/subscribers/{public_id}/erase     subscribers.erasure.erase (confirm=yes)
"""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from pipeline.accounts import audit as audit_log
from pipeline.accounts.users import Account
from pipeline.errors import NewsletterError
from pipeline.studio.auth import current_user, require_role
from pipeline.studio.common import (
    ADMIN,
    MAX_UPLOAD_FORM,
    audit,
    checked_form,
    page,
    see_other,
    text_field,
)
from pipeline.subscribers import service
from pipeline.subscribers.audience import segment_counts
from pipeline.subscribers.editing import edit_subscriber
from pipeline.subscribers.erasure import erase
from pipeline.subscribers.exporting import export_csv, export_person
from pipeline.subscribers.importjobs import import_status, start_import
from pipeline.subscribers.queries import count_subscribers, search_subscribers
from pipeline.web.pages import get_ctx

router = APIRouter()


@router.get("/subscribers", summary="Search subscribers; counts and segments")
async def search(
    request: Request, q: str = "", user: Account = Depends(current_user)
) -> HTMLResponse:
    ctx = get_ctx(request)

    def load() -> dict[str, Any]:
        return {
            "found": search_subscribers(ctx.engine, q[:200]),
            "counts": count_subscribers(ctx.engine),
            "segments": segment_counts(ctx.settings, ctx.engine, now=ctx.now()),
        }

    return page(
        request,
        "subscribers.html",
        user,
        q=q,
        report=None,
        error="",
        **await run_in_threadpool(load),
    )


@router.get("/subscribers/export.csv", summary="Every subscriber as CSV")
async def export(request: Request, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)
    out = io.StringIO()
    count = await run_in_threadpool(export_csv, ctx.engine, out)
    audit(request, user, "subscribers.export", "", rows=count)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="subscribers.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/subscribers/import", summary="Start importing a CSV file (admins)")
async def import_file(request: Request, user: Account = Depends(require_role("admin"))) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request, limit=MAX_UPLOAD_FORM, files=1)
    upload = form.get("file")
    chosen = [v for v in form.getlist("lists") if isinstance(v, str)]
    error = "Choose a CSV file."
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read()
        try:
            job = await run_in_threadpool(
                lambda: start_import(ctx.settings, ctx.engine, data, lists=chosen)
            )
        except NewsletterError as exc:
            error = str(exc)
        else:
            audit(request, user, "subscribers.import", upload.filename, job=job, lists=chosen)
            return see_other(f"{ADMIN}/subscribers/imports/{job}")

    def load() -> dict[str, Any]:
        return {
            "found": search_subscribers(ctx.engine, ""),
            "counts": count_subscribers(ctx.engine),
            "segments": segment_counts(ctx.settings, ctx.engine, now=ctx.now()),
        }

    return page(
        request, "subscribers.html", user, 422, q="", error=error, **await run_in_threadpool(load)
    )


def _status(request: Request, job: str) -> dict[str, Any]:
    try:
        return import_status(get_ctx(request).settings, job)
    except NewsletterError:
        raise HTTPException(404) from None


@router.get("/subscribers/imports/{job}", summary="An import's progress and outcome")
async def import_page(
    request: Request, job: str, user: Account = Depends(current_user)
) -> HTMLResponse:
    return page(request, "import.html", user, job=job, state=_status(request, job))


@router.get("/subscribers/imports/{job}/progress", summary="An import's progress (htmx)")
async def import_progress(
    request: Request, job: str, user: Account = Depends(current_user)
) -> HTMLResponse:
    return page(request, "import_progress.html", user, job=job, state=_status(request, job))


def _person(request: Request, public_id: str) -> service.SubscriberInfo:
    info = service.get_subscriber(get_ctx(request).engine, public_id=public_id)
    if info is None:
        raise HTTPException(404)
    return info


async def _person_page(
    request: Request, user: Account, public_id: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    ctx = get_ctx(request)
    info = await run_in_threadpool(_person, request, public_id)
    held = await run_in_threadpool(export_person, ctx.engine, info.email)
    audit(request, user, "subscriber.view", info.email)
    values = {"notice": "", "error": "", "confirm_erase": False, **extra}
    return page(request, "subscriber.html", user, status, info=info, held=held, **values)


@router.get("/subscribers/{public_id}", summary="One subscriber")
async def person(
    request: Request, public_id: str, user: Account = Depends(current_user)
) -> HTMLResponse:
    done = request.query_params.get("done", "")
    notice = {"saved": "Saved.", "unsubscribed": "Unsubscribed from every list."}.get(done, "")
    return await _person_page(request, user, public_id, notice=notice)


@router.post("/subscribers/{public_id}/edit", summary="Change name, lists, tags and fields")
async def edit(request: Request, public_id: str, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request)
    info = await run_in_threadpool(_person, request, public_id)
    names = [k.removeprefix("field:") for k in form if k.startswith("field:")]
    fields = {n: text_field(form, f"field:{n}") for n in names}
    new_name = text_field(form, "new_field").strip()
    if new_name:
        fields[new_name] = text_field(form, "new_value")
    try:
        changed = await run_in_threadpool(
            lambda: edit_subscriber(
                ctx.engine,
                public_id,
                name=text_field(form, "name"),
                lists=[v for v in form.getlist("lists") if isinstance(v, str)],
                tags=text_field(form, "tags").split(","),
                fields=fields,
                method="studio",
                ip=ctx.ip(request),
            )
        )
    except NewsletterError as exc:
        return await _person_page(request, user, public_id, 422, error=str(exc))
    audit(request, user, "subscriber.update", info.email, changed=changed)
    return see_other(f"{ADMIN}/subscribers/{public_id}?done=saved")


@router.post("/subscribers/{public_id}/unsubscribe", summary="Unsubscribe from every list")
async def unsubscribe(
    request: Request, public_id: str, user: Account = Depends(current_user)
) -> Response:
    ctx = get_ctx(request)
    await checked_form(request)
    info = await run_in_threadpool(_person, request, public_id)
    await run_in_threadpool(
        lambda: service.unsubscribe(ctx.engine, info.id, None, method="studio", ip=ctx.ip(request))
    )
    audit(request, user, "subscriber.unsubscribe", info.email)
    return see_other(f"{ADMIN}/subscribers/{public_id}?done=unsubscribed")


@router.post("/subscribers/{public_id}/erase", summary="Erase a subscriber (admins; confirmed)")
async def erase_person(
    request: Request, public_id: str, user: Account = Depends(require_role("admin"))
) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request)
    if text_field(form, "confirm") != "yes":
        return await _person_page(request, user, public_id, confirm_erase=True)
    info = await run_in_threadpool(_person, request, public_id)
    report = await run_in_threadpool(erase, ctx.engine, info.email)
    await run_in_threadpool(audit_log.forget_target, ctx.engine, report.email)
    audit(request, user, "subscriber.erase", "(erased)", found=report.found)
    return page(request, "erased.html", user, report=report)
