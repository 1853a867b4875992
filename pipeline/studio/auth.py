"""Who is signed in to the studio, and what they may do.

The session is a cookie (``nl_studio``) holding a signed token (``pipeline.tokens``,
purpose ``studio-session``) that names the account's random ``public_id`` and its
``session_epoch``, signed at sign-in. It is HttpOnly, SameSite=Strict, Secure when the
newsletter's ``base_url`` is https, limited to ``/admin`` and lasts
``[studio] session_hours`` (checked on the server with the app's clock, whatever the
browser keeps). Every request reads the account again: a disabled account, or one whose
password was reset since (its epoch moved on), is signed out at once.

FastAPI dependencies for the studio's routes:

- ``current_user``: the signed-in ``Account``; without one, ``LoginRequired`` (the app
  answers 303 to ``/admin/login?next=<this page>``);
- ``require_role("approver")``: the same, and ``RoleRequired`` (a 403 page naming the
  role) for a lower one.

And for pages and forms: ``studio_page`` renders a template of ``templates/web/studio/``
with the user, a CSRF token and a per-response CSP nonce (``csp_nonce``: put it on every
``<script>``; no inline handler runs); ``read_form`` reads a small form and refuses one
without a valid CSRF token (``CsrfRefused``: a 403 page); ``audit_action`` records what a
user did, with their IP.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from pipeline.accounts.users import Account, check_role, user_by_public_id
from pipeline.errors import WebError
from pipeline.tokens import make_token, read_token
from pipeline.web.audit import audit_request
from pipeline.web.pages import WebContext, error_page, get_ctx
from pipeline.web.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SECURITY_HEADERS,
    csrf_cookie_value,
    csrf_ok,
    make_csrf_token,
    read_small_form,
)

SESSION_COOKIE = "nl_studio"
SESSION_PURPOSE = "studio-session"
SESSION_PATH = "/admin"
LOGIN_PATH = "/admin/login"
#: The largest form a studio page takes unless it says otherwise.
MAX_FORM = 64_000


class LoginRequired(Exception):
    """No valid session: the page asked for goes to the login page and comes back after."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__(next_path)


class RoleRequired(Exception):
    """The signed-in account's role is below what the page needs (403)."""

    def __init__(self, role: str) -> None:
        self.role = role
        super().__init__(role)


class CsrfRefused(Exception):
    """A studio form without a valid CSRF token (an old page, or another site's form)."""


# ---- the session cookie ------------------------------------------------------------------
def session_max_age(ctx: WebContext) -> timedelta:
    return timedelta(hours=ctx.settings.studio.session_hours)


def session_token(ctx: WebContext, account: Account) -> str:
    """The cookie's value for ``account``, signed now."""
    return make_token(
        ctx.settings.keys, SESSION_PURPOSE, account.public_id, account.session_epoch, now=ctx.now()
    )


def set_session(response: Response, ctx: WebContext, account: Account) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_token(ctx, account),
        max_age=int(session_max_age(ctx).total_seconds()),
        path=SESSION_PATH,
        httponly=True,
        samesite="strict",
        secure=ctx.secure_cookies,
    )


def clear_session(response: Response, ctx: WebContext) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=SESSION_PATH,
        httponly=True,
        samesite="strict",
        secure=ctx.secure_cookies,
    )


def account_for_session(ctx: WebContext, value: str | None) -> Account | None:
    """The account a session cookie stands for, or None (missing, forged, expired, signed
    out by a password reset, or the account disabled)."""
    if not value:
        return None
    try:
        token = read_token(
            ctx.settings.keys, SESSION_PURPOSE, value, now=ctx.now(), max_age=session_max_age(ctx)
        )
    except WebError:
        return None
    if token.issued_at > ctx.now() + timedelta(minutes=5):  # signed in "the future"
        return None
    account = user_by_public_id(ctx.engine, token.subject)
    if account is None or account.disabled or str(account.session_epoch) != token.data:
        return None
    return account


# ---- dependencies ------------------------------------------------------------------------
def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path inside the studio, never another site."""
    if not value or not value.startswith("/admin") or value.startswith(LOGIN_PATH):
        return "/admin"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or any(ord(c) < 32 for c in value):
        return "/admin"
    return value


def _here(request: Request) -> str:
    path = request.url.path
    if request.method == "GET" and request.url.query:
        path += "?" + request.url.query
    return path


async def current_user(request: Request, ctx: WebContext = Depends(get_ctx)) -> Account:
    """The signed-in account; ``LoginRequired`` when there is none."""
    cached = getattr(request.state, "studio_user", None)
    if isinstance(cached, Account):
        return cached
    account = await run_in_threadpool(account_for_session, ctx, request.cookies.get(SESSION_COOKIE))
    if account is None:
        raise LoginRequired(_here(request) if request.method == "GET" else "/admin")
    request.state.studio_user = account
    return account


def require_role(role: str) -> Callable[..., Awaitable[Account]]:
    """A dependency: the signed-in account, which must be ``role`` or above (else 403)."""
    check_role(role)

    async def dependency(user: Account = Depends(current_user)) -> Account:
        if not user.can(role):
            raise RoleRequired(role)
        return user

    return dependency


async def login_redirect(request: Request, exc: Exception) -> Response:
    """The app's answer to ``LoginRequired``: 303 to the login page, and back after."""
    target = safe_next(exc.next_path if isinstance(exc, LoginRequired) else None)
    location = LOGIN_PATH if target == "/admin" else f"{LOGIN_PATH}?next={quote(target, safe='/')}"
    response = RedirectResponse(location, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


async def role_refused(request: Request, exc: Exception) -> Response:
    """The app's answer to ``RoleRequired``: 403, saying which role the page needs."""
    role = exc.role if isinstance(exc, RoleRequired) else "admin"
    return error_page(
        request, 403, f"This needs the {role} role or above. An admin can change your role."
    )


async def csrf_refused(request: Request, exc: Exception) -> Response:
    """The app's answer to ``CsrfRefused``: 403, and how to go on."""
    return error_page(
        request, 403, "This page had expired. Please go back, reload it and try again."
    )


# ---- pages and forms ---------------------------------------------------------------------
def studio_csp(nonce: str) -> str:
    """The site's policy, with this app's scripts and those carrying ``nonce`` allowed
    (and nothing inline without it: no ``onclick``, no ``javascript:``)."""
    return (
        SECURITY_HEADERS["Content-Security-Policy"]
        .replace("script-src 'none'", f"script-src 'self' 'nonce-{nonce}'")
        .replace("default-src 'self';", "default-src 'self'; connect-src 'self';")
    )


def studio_page(
    request: Request,
    template: str,
    status: int = 200,
    *,
    user: Account | None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``templates/web/<template>`` (e.g. ``studio/login.html``) for ``user``: the
    page gets ``user``, ``csrf_token``, ``csp_nonce`` and ``request_path``; the response
    its CSP with that nonce, ``Cache-Control: no-store`` and the CSRF cookie if new."""
    ctx = get_ctx(request)
    secret = ctx.settings.secrets.secret_key
    cookie, new = csrf_cookie_value(request, secret)
    nonce = secrets.token_urlsafe(18)
    body = ctx.templates.get_template(template).render(
        request_path=request.url.path,
        csrf_token=make_csrf_token(secret, cookie),
        csp_nonce=nonce,
        user=user,
        **context,
    )
    response = HTMLResponse(body, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = studio_csp(nonce)
    if new:
        response.set_cookie(
            CSRF_COOKIE, cookie, httponly=True, samesite="lax", secure=ctx.secure_cookies, path="/"
        )
    return response


def csrf_valid(request: Request, form: FormData) -> bool:
    token = form.get(CSRF_FIELD)
    return csrf_ok(
        get_ctx(request).settings.secrets.secret_key,
        request.cookies.get(CSRF_COOKIE),
        token if isinstance(token, str) else None,
    )


async def read_form(request: Request, limit: int = MAX_FORM) -> FormData:
    """The request's form, after its CSRF token is checked (``CsrfRefused`` if not valid;
    a 400 if it cannot be read)."""
    form = await read_small_form(request, limit)
    if form is None:
        raise HTTPException(400, "The form could not be read. Please try again.")
    if not csrf_valid(request, form):
        raise CsrfRefused()
    return form


def audit_action(
    request: Request,
    user: Account,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Record in the audit log that ``user`` did ``action`` to ``target`` (with their IP)."""
    audit_request(request, user, action, target, detail)
