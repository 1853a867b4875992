"""``/api/v1/stats``: the last issues' figures and the list's growth per week (as
``newsletter stats --json``; ``pipeline.tracking.stats``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from pipeline.accounts.users import Account
from pipeline.api.common import ERRORS, UNAVAILABLE, call, require
from pipeline.api.issues import StatsOut
from pipeline.tracking.stats import list_growth, recent_editions
from pipeline.web.pages import WebContext, get_ctx

router = APIRouter(tags=["stats"])


class WeekOut(BaseModel):
    week: str
    confirmed: int
    unsubscribed: int
    bounced: int
    net: int


class OverviewOut(BaseModel):
    issues: list[StatsOut]
    growth: list[WeekOut]


@router.get(
    "/stats",
    summary="Figures across issues, and list growth",
    response_model=OverviewOut,
    responses={**ERRORS, **UNAVAILABLE},
)
async def stats(
    issues: int = Query(10, ge=1, le=100, description="How many of the last issues."),
    weeks: int = Query(12, ge=1, le=260, description="How many weeks of growth."),
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> OverviewOut:
    recent = await call(recent_editions, ctx.engine, limit=issues)
    growth = await call(list_growth, ctx.engine, weeks=weeks, now=ctx.now())
    return OverviewOut(
        issues=[StatsOut.model_validate(r.as_dict()) for r in recent],
        growth=[WeekOut(**vars(w)) for w in growth],
    )
