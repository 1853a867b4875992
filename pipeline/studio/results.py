"""Results: one issue's figures, per-link table and chart; across issues, the trends and
the list's growth. The figures come from ``pipeline.tracking.stats``, the charts (SVG) from
``pipeline.tracking.charts``: the same as ``issue stats`` and ``newsletter stats``.

    GET /admin/issues/{slug}/results          the page
    GET /admin/issues/{slug}/results/chart.svg
    GET /admin/results                        trends across issues and list growth
    GET /admin/results/chart.svg
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from pipeline.accounts.users import Account
from pipeline.errors import SendError
from pipeline.sending.editions import Edition, get_edition
from pipeline.studio.auth import current_user
from pipeline.studio.common import page
from pipeline.tracking.charts import edition_svg, newsletter_svg
from pipeline.tracking.stats import edition_stats, edition_timeline, list_growth, recent_editions
from pipeline.web.pages import get_ctx

router = APIRouter()
ISSUES = 12
WEEKS = 12


def _edition(request: Request, slug: str) -> Edition:
    try:
        return get_edition(get_ctx(request).engine, slug)
    except SendError:
        raise HTTPException(404) from None


def _svg(text: str) -> Response:
    return Response(text, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/issues/{slug}/results", summary="One issue's results")
async def issue_results(
    request: Request, slug: str, user: Account = Depends(current_user)
) -> HTMLResponse:
    engine = get_ctx(request).engine
    edition = _edition(request, slug)
    stats = await run_in_threadpool(edition_stats, engine, edition.id)
    return page(request, "results.html", user, stats=stats, edition=edition)


@router.get("/issues/{slug}/results/chart.svg", summary="One issue's chart (SVG)")
async def issue_chart(
    request: Request, slug: str, user: Account = Depends(current_user)
) -> Response:
    engine = get_ctx(request).engine
    edition = _edition(request, slug)

    def draw() -> str:
        return edition_svg(edition_stats(engine, edition.id), edition_timeline(engine, edition.id))

    return _svg(await run_in_threadpool(draw))


@router.get("/results", summary="Trends across issues and the list's growth")
async def trends(request: Request, user: Account = Depends(current_user)) -> HTMLResponse:
    ctx = get_ctx(request)
    recent = await run_in_threadpool(lambda: recent_editions(ctx.engine, limit=ISSUES))
    growth = await run_in_threadpool(
        lambda: list_growth(ctx.engine, weeks=WEEKS, now=ctx.clock.now())
    )
    return page(request, "trends.html", user, recent=recent, growth=growth)


@router.get("/results/chart.svg", summary="The chart of trends and growth (SVG)")
async def trends_chart(request: Request, user: Account = Depends(current_user)) -> Response:
    ctx = get_ctx(request)

    def draw() -> str:
        return newsletter_svg(
            recent_editions(ctx.engine, limit=ISSUES),
            list_growth(ctx.engine, weeks=WEEKS, now=ctx.clock.now()),
        )

    return _svg(await run_in_threadpool(draw))
