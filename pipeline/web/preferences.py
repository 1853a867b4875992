"""``GET/POST /preferences/{token}``: choose lists, change the name, allow or refuse
open and click tracking (the ``tracking`` checkbox), or unsubscribe from everything. The
form's ``action`` is ``save`` (name, lists and tracking), ``unsubscribe`` (every list, and
the address is suppressed) or ``resubscribe`` (the button on the unsubscribed page: the
lists given, confirmed, since the person asks on a page only their link opens). Saving
with no list ticked ends every subscription without suppressing the address.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from pipeline.subscribers import service
from pipeline.subscribers.links import subscriber_for_token
from pipeline.subscribers.lists import list_names
from pipeline.subscribers.names import check_signup_name
from pipeline.tokens import Token, read_token
from pipeline.tracking.consent import set_tracking, tracking_allowed
from pipeline.web.pages import WebContext, answers, error_page, get_ctx, page
from pipeline.web.security import CSRF_COOKIE, CSRF_FIELD, csrf_ok, read_small_form
from pipeline.web.unsubscribe import mask_email, resubscribe_offer, unsubscribe_everywhere

router = APIRouter()

MAX_BODY = 16_000
ACTIONS = ("save", "unsubscribe", "resubscribe")

PREFERENCES_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "action": {"type": "string", "enum": list(ACTIONS)},
                        "name": {"type": "string", "maxLength": 200},
                        "lists": {"type": "array", "items": {"type": "string"}},
                        "tracking": {"type": "string", "enum": ["on"]},
                        CSRF_FIELD: {"type": "string"},
                    },
                }
            }
        },
    }
}


def _read(ctx: WebContext, token: str) -> Token:
    return read_token(ctx.settings.keys, "preferences", token)


def _view(ctx: WebContext, data: Token) -> dict[str, Any] | None:
    info = subscriber_for_token(ctx.engine, data)
    if info is None:
        return None
    active = info.status == "active"
    chosen = [
        s for s, st in info.subscriptions.items() if active and st in ("confirmed", "unconfirmed")
    ]
    return {
        "name": info.name,
        "masked": mask_email(info.email),
        "chosen": chosen,
        "pending": [s for s in chosen if info.subscriptions.get(s) == "unconfirmed"],
        "suppressed": not active,
        "tracking": tracking_allowed(ctx.engine, info.id),
        "id": info.id,
    }


def _page(
    request: Request, token: str, view: dict[str, Any], status: int = 200, message: str = ""
) -> Response:
    return page(request, "preferences.html", status, token=token, message=message, **view)


@router.get(
    "/preferences/{token}",
    summary="The preferences page",
    response_class=HTMLResponse,
    responses=answers(),
)
async def preferences_page(
    token: str, request: Request, ctx: WebContext = Depends(get_ctx)
) -> Response:
    data = _read(ctx, token)  # a bad link: WebError, the app's handler answers 400
    view = await run_in_threadpool(_view, ctx, data)
    if view is None:
        return error_page(request, 400, "Sorry, this link is not valid any more.")
    return _page(request, token, view)


@router.post(
    "/preferences/{token}",
    summary="Save preferences",
    openapi_extra=PREFERENCES_BODY,
    response_class=HTMLResponse,
    responses=answers(403, 422),
)
async def preferences_save(
    token: str, request: Request, ctx: WebContext = Depends(get_ctx)
) -> Response:
    data = _read(ctx, token)
    form = await read_small_form(request, MAX_BODY)
    if form is None:
        return error_page(request, 400, "The form could not be read. Please try again.")
    view = await run_in_threadpool(_view, ctx, data)
    if view is None:
        return error_page(request, 400, "Sorry, this link is not valid any more.")
    csrf = form.get(CSRF_FIELD)
    secret = ctx.settings.secrets.secret_key
    if not csrf_ok(
        secret, request.cookies.get(CSRF_COOKIE), csrf if isinstance(csrf, str) else None
    ):
        return _page(
            request, token, view, 403, "This page had expired. Please make your choice again."
        )
    action = form.get("action")
    lists = [s for s in form.getlist("lists") if isinstance(s, str)]
    lists = [s for s in dict.fromkeys(lists) if s in ctx.settings.list_slugs]
    ip = ctx.ip(request)
    if action == "unsubscribe" or (action == "save" and not lists and not view["suppressed"]):
        had = await run_in_threadpool(unsubscribe_everywhere, ctx, data, "web", ip)
        return page(request, "unsubscribed.html", **resubscribe_offer(ctx, data, had))
    if action not in ("save", "resubscribe") or not lists:
        return _page(request, token, view, 422, "Please choose at least one list.")
    given = form.get("name")
    name, problem = check_signup_name(given if isinstance(given, str) else "")
    if action == "save" and problem:
        return _page(request, token, view, 422, problem)

    def save() -> None:
        if action == "save":
            service.set_name(ctx.engine, view["id"], name)
        service.set_lists(ctx.engine, view["id"], lists, method="web", ip=ip)
        if action == "save":
            set_tracking(ctx.engine, view["id"], form.get("tracking") == "on")

    await run_in_threadpool(save)
    fresh = await run_in_threadpool(_view, ctx, data)
    assert fresh is not None
    message = (
        f"Saved. You are subscribed to {', '.join(list_names(ctx.settings, fresh['chosen']))}."
        if fresh["chosen"]
        else "Saved. This address cannot receive our emails any more."
    )
    return _page(request, token, fresh, message=message)
