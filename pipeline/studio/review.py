"""One issue's page: its state, schedule (a date-time picker in the newsletter's zone),
reschedule, unschedule, cancel, a test copy to yourself, a running send's progress.

    GET  /admin/issues/{slug}              the page
    GET  /admin/issues/{slug}/progress     the progress fragment (htmx polls it while sending)
    POST /admin/issues/{slug}/schedule     scheduling.plan.schedule_issue / reschedule_issue
    POST /admin/issues/{slug}/unschedule   scheduling.plan.unschedule_issue
    POST /admin/issues/{slug}/cancel       sending.control.cancel_edition (after a confirmation)
    POST /admin/issues/{slug}/test         sending.direct.send_test_copies to the signed-in user
    POST /admin/issues/{slug}/submit       editorial.review.submit (any editor)
    POST /admin/issues/{slug}/approve      editorial.review.approve (an approver, not the submitter)
    POST /admin/issues/{slug}/reject       editorial.review.reject, with the reason (an approver)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from pipeline.accounts.users import Account
from pipeline.editorial.review import approve, reject, submit
from pipeline.errors import ContentError, NewsletterError
from pipeline.scheduling.panel import IssuePanel, issue_panel
from pipeline.scheduling.plan import reschedule_issue, schedule_issue, unschedule_issue
from pipeline.sending.control import cancel_edition
from pipeline.sending.direct import send_test_copies
from pipeline.studio.auth import current_user, require_role
from pipeline.studio.common import ADMIN, audit, checked_form, page, see_other, text_field
from pipeline.web.pages import get_ctx

router = APIRouter()


async def _panel(request: Request, slug: str) -> IssuePanel:
    ctx = get_ctx(request)
    try:
        return await run_in_threadpool(
            lambda: issue_panel(ctx.settings, ctx.engine, slug, clock=ctx.clock)
        )
    except ContentError:
        raise HTTPException(404) from None


async def _issue_page(
    request: Request, user: Account, slug: str, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    panel = await _panel(request, slug)
    values = {"notice": "", "error": "", "confirm_cancel": False, **extra}
    return page(
        request,
        "issue.html",
        user,
        status,
        panel=panel,
        timezone=get_ctx(request).settings.newsletter.timezone,
        **values,
    )


@router.get("/issues/{slug}", summary="One issue: its state, schedule, test copy, progress")
async def issue_page(
    request: Request, slug: str, user: Account = Depends(current_user)
) -> HTMLResponse:
    done = request.query_params.get("done", "")
    return await _issue_page(request, user, slug, notice=NOTICES.get(done, ""))


@router.get("/issues/{slug}/progress", summary="A running send's progress (htmx)")
async def progress(
    request: Request, slug: str, user: Account = Depends(current_user)
) -> HTMLResponse:
    panel = await _panel(request, slug)
    return page(request, "progress.html", user, panel=panel)


NOTICES = {
    "scheduled": "Scheduled.",
    "unscheduled": "Taken off the schedule: it stays frozen and is not sent.",
    "cancelled": "Cancelled: nothing more of it is sent.",
    "test": "A test copy is on its way to you.",
    "submitted": "Submitted for review: an approver can now approve or reject it.",
    "approved": "Approved: it can be scheduled.",
    "rejected": "Rejected: it is a draft again, with your reason.",
}


async def _act(
    request: Request, user: Account, slug: str, done: str, action: Any, **detail: Any
) -> Response:
    try:
        await run_in_threadpool(action)
    except NewsletterError as exc:
        return await _issue_page(request, user, slug, status=422, error=str(exc))
    audit(request, user, f"issue.{done}", slug, **detail)
    return see_other(f"{ADMIN}/issues/{slug}?done={done}")


@router.post("/issues/{slug}/schedule", summary="Schedule or reschedule an issue")
async def schedule(request: Request, slug: str, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request)
    at = text_field(form, "at").strip().replace("T", " ") or None
    plan = reschedule_issue if text_field(form, "mode") == "reschedule" else schedule_issue
    return await _act(
        request,
        user,
        slug,
        "scheduled",
        lambda: plan(ctx.settings, ctx.engine, slug, at=at, clock=ctx.clock),
        at=at,
    )


@router.post("/issues/{slug}/unschedule", summary="Take an issue off the schedule")
async def unschedule(
    request: Request, slug: str, user: Account = Depends(current_user)
) -> Response:
    ctx = get_ctx(request)
    await checked_form(request)
    return await _act(
        request, user, slug, "unscheduled", lambda: unschedule_issue(ctx.engine, slug)
    )


@router.post("/issues/{slug}/cancel", summary="Cancel an issue's edition (with a confirmation)")
async def cancel(request: Request, slug: str, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request)
    if text_field(form, "confirm") != "yes":
        return await _issue_page(request, user, slug, confirm_cancel=True)
    return await _act(
        request, user, slug, "cancelled", lambda: cancel_edition(ctx.engine, slug, clock=ctx.clock)
    )


@router.post("/issues/{slug}/test", summary="Send a test copy to the signed-in editor")
async def test_copy(request: Request, slug: str, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)
    await checked_form(request)
    return await _act(
        request, user, slug, "test", lambda: send_test_copies(ctx.settings, slug, [user.email])
    )


@router.post("/issues/{slug}/submit", summary="Submit an issue for review")
async def submit_issue(
    request: Request, slug: str, user: Account = Depends(current_user)
) -> Response:
    ctx = get_ctx(request)
    await checked_form(request)
    return await _act(
        request,
        user,
        slug,
        "submitted",
        lambda: submit(ctx.settings, ctx.engine, slug, user.email, clock=ctx.clock),
    )


@router.post("/issues/{slug}/approve", summary="Approve an issue in review (approvers)")
async def approve_issue(
    request: Request, slug: str, user: Account = Depends(require_role("approver"))
) -> Response:
    ctx = get_ctx(request)
    await checked_form(request)
    return await _act(
        request,
        user,
        slug,
        "approved",
        lambda: approve(ctx.settings, ctx.engine, slug, user.email, clock=ctx.clock),
    )


@router.post("/issues/{slug}/reject", summary="Reject an issue in review, with why (approvers)")
async def reject_issue(
    request: Request, slug: str, user: Account = Depends(require_role("approver"))
) -> Response:
    ctx = get_ctx(request)
    form = await checked_form(request)
    reason = text_field(form, "reason").strip()
    return await _act(
        request,
        user,
        slug,
        "rejected",
        lambda: reject(ctx.settings, ctx.engine, slug, user.email, reason, clock=ctx.clock),
        reason=reason,
    )
