"""``/api/v1/issues``: list, get, check, submit, approve, reject, schedule, unschedule; and the
figures of a sent issue (``/api/v1/issues/{slug}/stats``).

Each route calls the stage that ``newsletter issue ...`` calls (``scheduling.overview``,
``sending.editions.checked_findings``, ``scheduling.plan``, ``editorial.review``,
``tracking.stats``); what the token did is added to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from pipeline.accounts.users import Account
from pipeline.api.common import (
    CONFLICT,
    ERRORS,
    NOT_FOUND,
    UNAVAILABLE,
    UNPROCESSABLE,
    ApiError,
    call,
    record,
    require,
)
from pipeline.config import Settings
from pipeline.content.issues import check_slug
from pipeline.editorial import review
from pipeline.errors import ContentError
from pipeline.scheduling.overview import IssueState, issue_states
from pipeline.scheduling.plan import schedule_issue, unschedule_issue
from pipeline.sending.editions import checked_findings, find_edition
from pipeline.tracking.stats import edition_stats
from pipeline.web.pages import WebContext, get_ctx

router = APIRouter(prefix="/issues", tags=["issues"])

SLUG_HELP = "The issue folder's name under issues/, e.g. 2026-12-01-microneedling."


class ReviewEventOut(BaseModel):
    action: str
    by: str
    at: datetime
    reason: str | None = None
    content_hash: str | None = None


class ReviewOut(BaseModel):
    """Where the issue stands in editorial review."""

    slug: str
    state: str = Field(description="draft, in_review, approved or scheduled")
    label: str
    changed_since_approval: bool
    submitted_by: str | None
    submitted_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    approved_hash: str | None
    current_hash: str | None
    rejection: ReviewEventOut | None
    log: list[ReviewEventOut]


class IssueOut(BaseModel):
    """One issue folder and where it stands (as ``newsletter issue list --json``)."""

    slug: str
    subject: str
    articles: int
    lists: list[str]
    send_at: datetime | None = Field(description="send_at from the front matter, if any")
    state: str = Field(
        description="draft, check errors, in review, approved, held, scheduled, sending, "
        "paused, sent, missed, cancelled, frozen"
    )
    state_detail: str = Field(description="e.g. the local send time, or the % sent")
    review: ReviewOut | None
    error: str | None = Field(description="why the folder does not load, if it does not")


class FindingOut(BaseModel):
    level: str = Field(description="error or warning")
    code: str
    message: str
    path: str
    line: int | None
    fix: str


class CheckOut(BaseModel):
    slug: str
    ok: bool = Field(description="true when no finding is an error")
    errors: int
    warnings: int
    findings: list[FindingOut]


class ScheduleIn(BaseModel):
    at: str | None = Field(
        None,
        max_length=100,
        description="When to send: '2026-12-01 09:00' in the newsletter's time zone (or "
        "'timezone'), or with an offset '2026-12-01 09:00+01:00'. Default: send_at in the "
        "issue's front matter.",
    )
    timezone: str | None = Field(None, max_length=64, description="An IANA zone for 'at'.")
    fold: int | None = Field(
        None, ge=0, le=1, description="For a time that happens twice: 0 the first, 1 the second."
    )


class ScheduledOut(BaseModel):
    edition_id: int
    slug: str
    send_at: datetime
    send_at_local: str
    timezone: str
    source: str
    lists: list[str]
    refrozen: bool
    warnings: list[str]


class UnscheduledOut(BaseModel):
    slug: str
    status: str = Field(description="frozen: built and kept, not on the schedule")


class LinkOut(BaseModel):
    index: int
    url: str
    text: str
    kind: str
    unique_clicks: int
    clicks: int
    machine_clicks: int


class StatsOut(BaseModel):
    """An edition's figures (as ``newsletter issue stats --json``)."""

    slug: str
    subject: str
    status: str
    sent: int
    delivered: int
    opens: int
    clicks: int
    bounces: int
    complaints: int
    unsubscribes: int
    total_opens: int
    total_clicks: int
    machine_opens: int
    machine_clicks: int
    base: str
    started_at: datetime | None
    links: list[LinkOut]
    rates: dict[str, float]


def _issue(state: IssueState) -> IssueOut:
    summary = state.summary
    return IssueOut(
        slug=summary.slug,
        subject=summary.subject,
        articles=summary.articles,
        lists=list(summary.lists),
        send_at=summary.send_at,
        state=state.state,
        state_detail=state.detail,
        review=ReviewOut.model_validate(state.review.as_dict()) if state.review else None,
        error=summary.error or None,
    )


def _find(settings: Settings, engine: Any, slug: str) -> IssueState:
    try:
        check_slug(slug)
    except ContentError:
        raise ApiError(404, f"no issue {slug[:100]!r}: not an issue folder's name") from None
    found = next((s for s in issue_states(settings, engine) if s.summary.slug == slug), None)
    if found is None:
        raise ApiError(404, f"no issue {slug!r}: there is no folder issues/{slug}")
    return found


@router.get(
    "",
    summary="List the issues",
    response_model=list[IssueOut],
    responses={**ERRORS, **UNAVAILABLE},
)
async def list_issues(
    ctx: WebContext = Depends(get_ctx), account: Account = Depends(require("editor"))
) -> list[IssueOut]:
    """Every issue folder, newest first, with where it stands."""
    states = await call(issue_states, ctx.settings, ctx.engine)
    return [_issue(s) for s in states]


@router.get(
    "/{slug}",
    summary="One issue",
    response_model=IssueOut,
    responses={**ERRORS, **NOT_FOUND, **UNPROCESSABLE, **UNAVAILABLE},
)
async def get_issue(
    slug: str, ctx: WebContext = Depends(get_ctx), account: Account = Depends(require("editor"))
) -> IssueOut:
    return _issue(await call(_find, ctx.settings, ctx.engine, slug))


@router.post(
    "/{slug}/check",
    summary="Run every check",
    response_model=CheckOut,
    responses={**ERRORS, **NOT_FOUND, **UNPROCESSABLE, **UNAVAILABLE},
)
async def check_issue(
    slug: str,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> CheckOut:
    """What ``newsletter issue check`` finds: errors stop a send, warnings do not."""
    await call(_find, ctx.settings, ctx.engine, slug)
    findings, _ = await call(checked_findings, ctx.settings, ctx.engine, slug)
    errors = sum(1 for f in findings if f.level == "error")
    await call(record, request, account, "issue.check", slug, {"errors": errors})
    return CheckOut(
        slug=slug,
        ok=errors == 0,
        errors=errors,
        warnings=len(findings) - errors,
        findings=[FindingOut.model_validate(f.to_dict()) for f in findings],
    )


@router.post(
    "/{slug}/submit",
    summary="Submit for review",
    response_model=ReviewOut,
    responses={**ERRORS, **NOT_FOUND, **CONFLICT, **UNPROCESSABLE, **UNAVAILABLE},
)
async def submit_issue(
    slug: str,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> ReviewOut:
    await call(_find, ctx.settings, ctx.engine, slug)
    state = await call(
        review.submit, ctx.settings, ctx.engine, slug, account.actor, clock=ctx.clock
    )
    await call(record, request, account, "issue.submit", slug)
    return ReviewOut.model_validate(state.as_dict())


@router.post(
    "/{slug}/approve",
    summary="Approve an issue in review",
    response_model=ReviewOut,
    responses={**ERRORS, **NOT_FOUND, **CONFLICT, **UNPROCESSABLE, **UNAVAILABLE},
)
async def approve_issue(
    slug: str,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("approver")),
) -> ReviewOut:
    """Approve the issue's files as they are now (a change afterwards voids it). The token
    that submitted it cannot approve it too, unless ``[editorial] allow_self_approval``."""
    await call(_find, ctx.settings, ctx.engine, slug)
    state = await call(
        review.approve, ctx.settings, ctx.engine, slug, account.actor, clock=ctx.clock
    )
    await call(record, request, account, "issue.approve", slug)
    return ReviewOut.model_validate(state.as_dict())


class RejectIn(BaseModel):
    reason: str = Field(
        min_length=1, max_length=2000, description="What to change, for the editor to act on."
    )


@router.post(
    "/{slug}/reject",
    summary="Send an issue in review back to draft",
    response_model=ReviewOut,
    responses={**ERRORS, **NOT_FOUND, **CONFLICT, **UNPROCESSABLE, **UNAVAILABLE},
)
async def reject_issue(
    slug: str,
    body: RejectIn,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("approver")),
) -> ReviewOut:
    """Reject an issue in review (or approved and not yet scheduled), with the reason."""
    await call(_find, ctx.settings, ctx.engine, slug)
    state = await call(
        review.reject, ctx.settings, ctx.engine, slug, account.actor, body.reason, clock=ctx.clock
    )
    await call(record, request, account, "issue.reject", slug, {"reason": body.reason[:200]})
    return ReviewOut.model_validate(state.as_dict())


@router.post(
    "/{slug}/schedule",
    summary="Schedule an issue",
    response_model=ScheduledOut,
    responses={**ERRORS, **NOT_FOUND, **CONFLICT, **UNPROCESSABLE, **UNAVAILABLE},
)
async def schedule(
    slug: str,
    body: ScheduleIn,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> ScheduledOut:
    """Build, check and freeze the issue to be sent at ``at`` by ``newsletter send-due``."""
    await call(_find, ctx.settings, ctx.engine, slug)
    result = await call(
        schedule_issue,
        ctx.settings,
        ctx.engine,
        slug,
        at=body.at,
        tz_name=body.timezone,
        fold=body.fold,
        clock=ctx.clock,
    )
    await call(
        record, request, account, "issue.schedule", slug, {"send_at": result.send_at.isoformat()}
    )
    return ScheduledOut.model_validate(result.as_dict())


@router.post(
    "/{slug}/unschedule",
    summary="Take an issue off the schedule",
    response_model=UnscheduledOut,
    responses={**ERRORS, **NOT_FOUND, **CONFLICT, **UNPROCESSABLE, **UNAVAILABLE},
)
async def unschedule(
    slug: str,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> UnscheduledOut:
    await call(_find, ctx.settings, ctx.engine, slug)
    edition = await call(unschedule_issue, ctx.engine, slug, clock=ctx.clock)
    await call(record, request, account, "issue.unschedule", slug)
    return UnscheduledOut(slug=edition.slug, status="frozen")


@router.get(
    "/{slug}/stats",
    summary="The figures of a sent issue",
    response_model=StatsOut,
    responses={**ERRORS, **NOT_FOUND, **UNPROCESSABLE, **UNAVAILABLE},
)
async def issue_stats(
    slug: str, ctx: WebContext = Depends(get_ctx), account: Account = Depends(require("editor"))
) -> StatsOut:
    """Sent, delivered, opens, clicks, bounces, complaints, unsubscribes, rates and the
    per-link table (people and machines apart: docs/tracking.md)."""
    await call(_find, ctx.settings, ctx.engine, slug)
    edition = await call(find_edition, ctx.engine, slug)
    if edition is None:
        raise ApiError(404, f"{slug} has not been sent or frozen: it has no figures yet")
    result = await call(edition_stats, ctx.engine, edition.id)
    return StatsOut.model_validate(result.as_dict())
