"""What every route shares: the app's context (settings, database, clock, templates), page
rendering with the CSRF cookie and token, and the error pages (``error_page``, and
``newsletter_error``: the app's one answer to a ``NewsletterError`` that leaves a route)."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine

from pipeline.clock import Clock
from pipeline.config import Settings
from pipeline.errors import (
    NewsletterError,
    SendError,
    StoreError,
    SubscriberError,
    WebError,
)
from pipeline.render.brand import brand_globals
from pipeline.web.security import CSRF_COOKIE, client_ip, csrf_cookie_value, make_csrf_token

log = logging.getLogger("pipeline.web")


@dataclass
class WebContext:
    settings: Settings
    engine: Engine
    clock: Clock
    templates: Environment
    webhook_verifier: Any = None  # sendgrid EventWebhook, when a public key is configured
    secure_cookies: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock.now()

    def ip(self, request: Request) -> str:
        return client_ip(request, self.settings.web.trusted_proxies)


def template_environment(settings: Settings) -> Environment:
    """Jinja for templates/web/ (HTML autoescaped; a missing variable is an error)."""
    env = Environment(
        loader=FileSystemLoader(str(settings.templates_dir / "web")),
        autoescape=select_autoescape(["html", "j2", "xml"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["newsletter"] = settings.newsletter
    env.globals.update(brand_globals(settings, base=""))
    env.globals["all_lists"] = settings.lists
    return env


def get_ctx(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def page(
    request: Request,
    template: str,
    status: int = 200,
    *,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page. Pages with forms get a CSRF token (and the cookie it signs)."""
    ctx = get_ctx(request)
    cookie, new = csrf_cookie_value(request, ctx.settings.secrets.secret_key)
    body = ctx.templates.get_template(template).render(
        request_path=request.url.path,
        csrf_token=make_csrf_token(ctx.settings.secrets.secret_key, cookie),
        **context,
    )
    response = HTMLResponse(body, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    if new:
        response.set_cookie(
            CSRF_COOKIE,
            cookie,
            httponly=True,
            samesite="lax",
            secure=ctx.secure_cookies,
            path="/",
        )
    return response


def wants_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    accept = request.headers.get("accept", "")
    return (
        content_type.startswith("application/json")
        or request.url.path.startswith(("/webhooks/", "/api/"))
        or ("application/json" in accept and "text/html" not in accept)
    )


TITLES = {
    400: "This link does not work",
    403: "Please try again",
    404: "Page not found",
    405: "Not allowed",
    413: "Too large",
    422: "Please check the form",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Please try again later",
}


def error_page(
    request: Request, status: int, message: str, *, headers: dict[str, str] | None = None
) -> Response:
    """An error as a page for people or JSON for programs; never a traceback."""
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    return page(
        request,
        "error.html",
        status,
        headers=headers,
        title=TITLES.get(status, "Something went wrong"),
        message=message,
        code=status,
    )


#: The status of a NewsletterError that leaves a route, by its class (first match wins):
#: the visitor's own mistakes (a bad link, a bad address) are 400 and their message is
#: shown; the database or a transport not answering is 503; anything else (templates,
#: settings) is the operator's to fix: 500. Only 4xx messages are shown to the visitor.
ERROR_STATUS: tuple[tuple[type[NewsletterError], int], ...] = (
    (WebError, 400),
    (SubscriberError, 400),
    (StoreError, 503),
    (SendError, 503),
)

SERVER_MESSAGES = {
    503: "We could not do this just now. Please try again in a few minutes.",
    500: "Something went wrong on our side. Please try again later.",
}


def error_status(exc: NewsletterError) -> int:
    return next((status for kind, status in ERROR_STATUS if isinstance(exc, kind)), 500)


def newsletter_error(request: Request, exc: NewsletterError) -> Response:
    """The answer to a NewsletterError that a route let through: a page for people or JSON
    for programs, with the status of ``ERROR_STATUS``; 5xx details go to the log only."""
    status = error_status(exc)
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        message = SERVER_MESSAGES[status]
        headers = {"Retry-After": "300"} if status == 503 else None
        return error_page(request, status, message, headers=headers)
    return error_page(request, status, f"Sorry, {exc}.")


# ---- what the OpenAPI schema declares (the answers as they really are) ----------------------
#: The body of an error answer for programs (``error_page`` with JSON, and the webhook).
ERROR_JSON: dict[str, Any] = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}
TEXT: dict[str, Any] = {"schema": {"type": "string"}}
BINARY: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}
HTML_BODY: dict[str, Any] = {"text/html": TEXT}

REASONS = {
    200: "The page",
    202: "Accepted (JSON posts)",
    302: "A redirect to the link's target (Location)",
    303: "A redirect (Location)",
    400: "A bad link, token or parameter",
    401: "The signature headers are missing",
    403: "Refused: an expired form, a bad signature, another site, no proof of work",
    404: "Nothing at this address (also any path with a NUL byte or over 2,048 bytes)",
    413: "The body is over the cap",
    422: "The form has mistakes; each is named",
    429: "Too many requests from this network (Retry-After)",
    503: "The database or the webhook's key is not available (Retry-After)",
}

#: What every public route may answer besides its own: a bad parameter (400), a bad path
#: (404, ``PathGuard``), a body over the cap (413, ``BodyLimit``), the database away (503).
COMMON_ERRORS = (400, 404, 413, 503)


def error_answer(status: int, *, html: bool = True) -> dict[str, Any]:
    """An error as ``error_page`` answers it: a page for people, JSON for programs."""
    content: dict[str, Any] = {"application/json": {"schema": ERROR_JSON}}
    if html:
        content = {**HTML_BODY, **content}
    return {"description": REASONS[status], "content": content}


def answers(
    *statuses: int, ok: dict[str, Any] | None = None, html: bool = True
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a public route: ``ok`` (the 200 answer's content; an HTML page by
    default; ``{}``: the route never answers 200), its own error ``statuses`` and
    ``COMMON_ERRORS``, as they really answer."""
    out: dict[int | str, dict[str, Any]] = {}
    if ok != {}:
        content = copy.deepcopy(ok if ok is not None else HTML_BODY)
        out[200] = {"description": REASONS[200], "content": content}
    for status in sorted({*statuses, *COMMON_ERRORS}):
        out[status] = error_answer(status, html=html)
    return out
