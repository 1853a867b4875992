"""``GET/POST /admin/login`` and ``POST /admin/logout``.

The login form carries a CSRF token like every form of the app; the sign-in itself, its
limits on failures and its audit entries are the accounts stage's
(``pipeline.accounts.users.authenticate``). A refused sign-in says why in words a person
can act on; a locked one answers 429 with ``Retry-After``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from pipeline.accounts.users import Account, LoginLimits, authenticate
from pipeline.errors import LoginError
from pipeline.studio.auth import (
    LOGIN_PATH,
    account_for_session,
    audit_action,
    clear_session,
    current_user,
    read_form,
    safe_next,
    set_session,
    studio_page,
)
from pipeline.web.pages import WebContext, get_ctx
from pipeline.web.security import CSRF_FIELD

router = APIRouter()

MAX_BODY = 4_000

LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "email": {"type": "string", "maxLength": 320},
                        "password": {"type": "string", "maxLength": 1024},
                        "next": {"type": "string", "maxLength": 500},
                        CSRF_FIELD: {"type": "string"},
                    },
                }
            }
        },
    }
}
LOGOUT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {CSRF_FIELD: {"type": "string"}}}
            }
        },
    }
}


def limits(ctx: WebContext) -> LoginLimits:
    studio = ctx.settings.studio
    return LoginLimits(
        per_account=studio.login_max_failures,
        per_ip=studio.login_ip_max_failures,
        window=studio.login_window,
    )


@router.get("/login", summary="The studio's sign-in page")
async def login_page(
    request: Request, next: str = "", ctx: WebContext = Depends(get_ctx)
) -> Response:
    target = safe_next(next)
    signed_in = await run_in_threadpool(account_for_session, ctx, request.cookies.get("nl_studio"))
    if signed_in is not None:
        return RedirectResponse(target, status_code=303)
    return studio_page(request, "studio/login.html", user=None, next=target, email="", message="")


@router.post("/login", summary="Sign in to the studio", openapi_extra=LOGIN_BODY)
async def login(request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    form = await read_form(request, MAX_BODY)
    email = form.get("email")
    password = form.get("password")
    target = safe_next(str(form.get("next") or ""))
    email_text = email if isinstance(email, str) else ""
    try:
        account = await run_in_threadpool(
            authenticate,
            ctx.engine,
            email_text,
            password if isinstance(password, str) else "",
            ctx.ip(request),
            limits=limits(ctx),
            now=ctx.now(),
        )
    except LoginError as exc:
        status = 429 if exc.retry_after else 401
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        message = exc.what[0].upper() + exc.what[1:] + (f": {exc.fix}." if exc.fix else ".")
        return studio_page(
            request,
            "studio/login.html",
            status,
            user=None,
            headers=headers,
            next=target,
            email=email_text[:320],
            message=message,
        )
    response = RedirectResponse(target, status_code=303)
    set_session(response, ctx, account)
    return response


@router.post("/logout", summary="Sign out of the studio", openapi_extra=LOGOUT_BODY)
async def logout(
    request: Request, user: Account = Depends(current_user), ctx: WebContext = Depends(get_ctx)
) -> Response:
    await read_form(request, MAX_BODY)
    await run_in_threadpool(audit_action, request, user, "logout", user.email)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    clear_session(response, ctx)
    return response
