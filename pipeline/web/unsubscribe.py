"""Unsubscribing: ``GET /unsubscribe/{token}`` shows one button and changes nothing (mail
scanners follow links); ``POST /unsubscribe/{token}`` unsubscribes from every list at once.

The same POST answers RFC 8058 one-click requests from mail providers: the body
``List-Unsubscribe=One-Click`` (urlencoded, multipart, or with no content type at all), no
cookies, no CSRF token; the
answer is a plain 200, never a redirect. The page's own button carries a CSRF token.
The confirmation page offers to resubscribe (a button that posts to the preferences page).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from pipeline.errors import WebError
from pipeline.sending.events import record_link_unsubscribe
from pipeline.subscribers import service
from pipeline.subscribers.links import subscriber_for_token
from pipeline.subscribers.lists import list_names
from pipeline.subscribers.service import SubscriberInfo
from pipeline.tokens import Token, make_token, read_token
from pipeline.web.pages import HTML_BODY, TEXT, WebContext, answers, get_ctx, page
from pipeline.web.security import CSRF_COOKIE, CSRF_FIELD, csrf_ok, read_small_form

router = APIRouter()

MAX_BODY = 16_000
ONE_CLICK = ("List-Unsubscribe", "One-Click")

UNSUBSCRIBE_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "List-Unsubscribe": {"type": "string", "enum": ["One-Click"]},
                        CSRF_FIELD: {"type": "string"},
                    },
                }
            }
        },
    }
}


#: The page's button gets pages (or JSON); a mail provider's one-click POST gets plain text.
UNSUBSCRIBE_RESPONSES = answers(403, ok={**HTML_BODY, "text/plain": TEXT})
for _status in (400, 413):
    UNSUBSCRIBE_RESPONSES[_status]["content"]["text/plain"] = TEXT


def mask_email(email: str) -> str:
    """``an***@example.com``: enough to recognise, not enough to harvest."""
    local, _, domain = email.partition("@")
    return f"{local[:2]}***@{domain}" if domain else "***"


def _read(ctx: WebContext, token: str) -> Token:
    return read_token(ctx.settings.keys, "unsubscribe", token)


def _who(ctx: WebContext, data: Token) -> SubscriberInfo | None:
    return subscriber_for_token(ctx.engine, data)


@router.get(
    "/unsubscribe/{token}",
    summary="The unsubscribe page (one button)",
    response_class=HTMLResponse,
    responses=answers(),
)
async def unsubscribe_page(
    token: str, request: Request, ctx: WebContext = Depends(get_ctx)
) -> Response:
    data = _read(ctx, token)  # a bad link: WebError, the app's handler answers 400
    info = await run_in_threadpool(_who, ctx, data)
    return page(
        request,
        "unsubscribe.html",
        token=token,
        masked=mask_email(info.email) if info else "",
        message="",
    )


def unsubscribe_everywhere(ctx: WebContext, data: Token, method: str, ip: str) -> list[str]:
    """Unsubscribe from every list; returns the lists the person was on (for the resubscribe
    offer). Counted once per edition for ``issue stats``. A token naming nobody (erased, or
    a test copy) changes nothing."""
    info = _who(ctx, data)
    if info is None:
        return []
    had = [s for s, st in info.subscriptions.items() if st in ("confirmed", "unconfirmed")]
    service.unsubscribe(ctx.engine, info.id, None, method=method, ip=ip)
    if info.status == "active":
        record_link_unsubscribe(ctx.engine, info.id, data.edition_id, source=method, now=ctx.now())
    return had


@router.post(
    "/unsubscribe/{token}",
    summary="Unsubscribe now (the page's button, or an RFC 8058 one-click POST)",
    openapi_extra=UNSUBSCRIBE_BODY,
    response_class=HTMLResponse,
    responses=UNSUBSCRIBE_RESPONSES,
)
async def unsubscribe_now(
    token: str, request: Request, ctx: WebContext = Depends(get_ctx)
) -> Response:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return PlainTextResponse("Body too large.\n", status_code=413)
    form = await read_small_form(request, MAX_BODY)
    if form is None:  # not a form at all
        return PlainTextResponse("The request could not be read.\n", status_code=400)
    one_click = raw.strip() == b"List-Unsubscribe=One-Click" or (
        form.get(ONE_CLICK[0]) == ONE_CLICK[1] and not form.get(CSRF_FIELD)
    )
    secret = ctx.settings.secrets.secret_key
    try:
        data = _read(ctx, token)
    except WebError as exc:
        if one_click:  # mail providers get plain text; people get the app's error page
            return PlainTextResponse(f"{exc}\n", status_code=400)
        raise
    ip = ctx.ip(request)
    if one_click:
        await run_in_threadpool(unsubscribe_everywhere, ctx, data, "one-click", ip)
        return PlainTextResponse("You are unsubscribed.\n", status_code=200)
    token_value = form.get(CSRF_FIELD)
    if not csrf_ok(
        secret,
        request.cookies.get(CSRF_COOKIE),
        token_value if isinstance(token_value, str) else None,
    ):
        info = await run_in_threadpool(_who, ctx, data)
        return page(
            request,
            "unsubscribe.html",
            403,
            token=token,
            masked=mask_email(info.email) if info else "",
            message="This page had expired. Please press the button again.",
        )
    had = await run_in_threadpool(unsubscribe_everywhere, ctx, data, "web", ip)
    return page(request, "unsubscribed.html", **resubscribe_offer(ctx, data, had))


def resubscribe_offer(ctx: WebContext, data: Token, had: list[str]) -> dict[str, Any]:
    """The unsubscribed page's offer: a preferences link for the same person."""
    lists = had or ctx.settings.list_slugs
    info = _who(ctx, data)
    subject = info.public_id if info else (data.subject or "unknown")
    return {
        "preferences_url": "/preferences/" + make_token(ctx.settings.keys, "preferences", subject),
        "lists": lists,
        "list_names": list_names(ctx.settings, lists),
    }
