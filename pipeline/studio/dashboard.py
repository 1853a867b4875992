"""The studio's dashboard (``GET /admin``): every issue with its state, the next sends,
the last issue's results, the list's growth, the latest signups and unsubscribes, the feeds
with new entries. One stage call: ``pipeline.scheduling.dashboard.dashboard``."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from pipeline.accounts.users import Account
from pipeline.scheduling.dashboard import dashboard
from pipeline.studio.auth import current_user
from pipeline.studio.common import page
from pipeline.web.pages import get_ctx


async def home(request: Request, user: Account = Depends(current_user)) -> HTMLResponse:
    ctx = get_ctx(request)
    board = await run_in_threadpool(lambda: dashboard(ctx.settings, ctx.engine, clock=ctx.clock))
    return page(request, "dashboard.html", user, board=board)
