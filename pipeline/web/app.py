"""The web app: ``create_app(settings)`` builds the FastAPI application.

Pages (templates/web/): the archive (``/``, ``/issues/{slug}``, ``/feed.xml``), signup
(``/subscribe``, ``/confirm/{token}``), ``/unsubscribe/{token}``, ``/preferences/{token}``;
the tracked links and the open pixel (``/l/{token}/{index}``, ``/o/{token}.gif``);
``POST /webhooks/sendgrid``; the editors' studio under ``/admin`` (``pipeline.studio``,
every page behind a sign-in); and the HTTP API under ``/api/v1`` (``pipeline.api``, every
route behind a bearer token). The OpenAPI schema is at ``/openapi.json`` (no docs UI).

Every response carries the security headers. A ``NewsletterError`` that leaves a route is
answered by one handler (``pages.newsletter_error``: 400 with its message for a bad link or
address, 503 when the database or a transport fails, else 500; a page or JSON); any other
error shows a generic 500 page (the traceback goes to the log). ``newsletter serve`` runs it
with uvicorn.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.staticfiles import StaticFiles

from pipeline import api
from pipeline.api.subscribers import MAX_IMPORT
from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings, load_settings, require_config
from pipeline.errors import ConfigError, NewsletterError
from pipeline.sending.mail_queue import QueueWorker
from pipeline.store.db import open_database
from pipeline.studio import router as studio_router
from pipeline.studio.auth import (
    CsrfRefused,
    LoginRequired,
    RoleRequired,
    csrf_refused,
    login_redirect,
    role_refused,
)
from pipeline.subscribers.service import sync_lists
from pipeline.subscribers.signup import consent_text
from pipeline.tracking.record import Tracker
from pipeline.web import (
    archive,
    botcheck,
    logs,
    pages,
    preferences,
    signup,
    tracking,
    unsubscribe,
    webhooks,
)
from pipeline.web.pages import WebContext, error_page, template_environment
from pipeline.web.security import BodyLimit, PathGuard, SecurityHeaders
from pipeline.web.webhooks import load_public_key

log = logging.getLogger("pipeline.web")

#: Files the app serves itself: the vendored ALTCHA widget and its workers.
STATIC = Path(__file__).parent / "static"

#: The largest request body any page takes (the webhook has its own, larger cap; the
#: studio's image uploads theirs).
MAX_BODY = 64_000
#: The studio's forms: an image upload of up to 8 MB.
MAX_STUDIO_BODY = 9 * 1024 * 1024

MESSAGES = {
    404: "There is nothing at this address.",
    405: "This page cannot be used that way.",
}


def create_app(
    settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    """The application for ``settings`` (the database is created or upgraded first)."""
    if not settings.secrets.secret_key:
        raise ConfigError("no signing key", fix="set NEWSLETTER_SECRET_KEY")
    if not (settings.templates_dir / "web").is_dir():
        raise ConfigError(
            f"no web templates in {settings.templates_dir / 'web'}",
            fix="copy templates/web/ from the newsletter-pipeline repository",
        )
    db = engine or open_database(settings.database_url)
    sync_lists(db, settings)
    key = settings.secrets.sendgrid_webhook_public_key
    https = settings.newsletter.base_url.startswith("https://")
    ctx = WebContext(
        settings=settings,
        engine=db,
        clock=clock or SystemClock(),
        templates=template_environment(settings),
        webhook_verifier=load_public_key(key) if key else None,
        secure_cookies=https,
    )
    tracker = Tracker(settings, db, clock=ctx.clock)
    # confirmation and welcome emails are queued by the routes and sent by this thread
    queue = QueueWorker(settings, db, clock=ctx.clock, interval=settings.web.queue_interval)
    logs.install()  # token URLs are redacted in the access log

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        logs.install()  # again: uvicorn sets up its loggers after the app is built
        tracker.recorder.start()  # writes queued opens and clicks in the background
        queue.start()  # sends queued emails (unless web.queue_interval is 0: cron does it)
        try:
            yield
        finally:
            queue.close()
            tracker.recorder.close()

    app = FastAPI(
        lifespan=lifespan,
        title=f"{settings.newsletter.name} web",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        redirect_slashes=False,  # its redirects take the host from the request: none at all
    )
    ctx.extra["tracker"] = tracker
    ctx.extra["mail_queue"] = queue
    app.state.ctx = ctx
    # the signup form partial is on every archive page, not only /subscribe
    ctx.templates.globals.update(
        consent=consent_text(settings), honeypot=signup.HONEYPOT, altcha=settings.web.altcha
    )
    modules = (archive, signup, unsubscribe, preferences, webhooks, tracking, botcheck)
    for module in modules:
        app.include_router(module.router)  # no prefixes: their routes' paths are the app's
    routes: list[BaseRoute | RouteContext] = [
        route for module in modules for route in module.router.routes
    ]
    # The editors' studio: every page needs a session (pipeline.studio.auth)
    app.include_router(studio_router)  # its paths start with /admin
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.add_exception_handler(RoleRequired, role_refused)
    # The HTTP API: every route needs a bearer token (pipeline.api.common.api_account)
    app.include_router(api.router)  # its paths start with /api/v1
    app.add_exception_handler(api.ApiError, api.api_error)
    app.mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static")
    app.get(
        "/archive",
        summary="The archive of sent issues (alias of /)",
        response_class=HTMLResponse,
        responses=pages.answers(404),
        operation_id="archive_index_alias",
    )(archive.archive_index)
    routes += [route for route in app.router.routes if isinstance(route, APIRoute)]
    # the studio's and the API's routes, with their full paths (included routers)
    routes += [
        route
        for route in iter_route_contexts(app.router.routes)
        if str(route.path or "").startswith(("/admin", "/api/"))
    ]
    # Outermost last: the headers wrap everything, then every body is capped before routing.
    app.add_middleware(
        BodyLimit,
        default=MAX_BODY,
        limits={
            "/webhooks/": webhooks.MAX_BODY,
            "/admin/": MAX_STUDIO_BODY,
            f"{api.PREFIX}/imports": MAX_IMPORT,
        },
    )
    app.add_middleware(PathGuard)
    app.add_middleware(SecurityHeaders, hsts=https)

    app.openapi = lambda: public_schema(app)  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = MESSAGES.get(exc.status_code, "This request could not be handled.")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of every route at this path, not the first's
            headers["Allow"] = allowed_methods(routes, request)
        return error_page(request, exc.status_code, message, headers=headers)

    @app.exception_handler(NewsletterError)
    async def newsletter_error(request: Request, exc: NewsletterError) -> Response:
        return pages.newsletter_error(request, exc)  # routes let their errors through

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return api.validation_error(request, exc)  # which field, for programs
        return error_page(request, 400, "This request could not be handled.")

    return app


def public_schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema as the app really answers, built once: FastAPI's, without the 422
    "Validation Error" it adds to every route with parameters where the app answers a bad
    parameter with 400 instead (every route outside the API), and with one operation id per
    method (a route for GET and HEAD gets ``<id>`` and ``<id>_head``)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    with warnings.catch_warnings():  # the GET/HEAD duplicates, fixed below
        warnings.filterwarnings("ignore", message="Duplicate Operation ID")
        schema = get_openapi(
            title=app.title, version=app.version, routes=app.routes, description=app.description
        )
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method == "head":
                operation["operationId"] = operation.get("operationId", path) + "_head"
            if path.startswith(api.PREFIX):
                continue
            responses = operation.get("responses", {})
            found = responses.get("422", {}).get("content", {}).get("application/json", {})
            if found.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
    app.openapi_schema = schema
    return schema


def allowed_methods(routes: Sequence[BaseRoute | RouteContext], request: Request) -> str:
    """The ``Allow`` header of a 405: the methods of all routes that match the path, and
    only those (HEAD only where a route takes it: FastAPI's routes do not add it to GET)."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def app_from_environment() -> FastAPI:
    """The uvicorn factory for ``newsletter serve --workers N``: settings from
    NEWSLETTER_CONFIG (set by the command) or the nearest newsletter.toml."""
    return create_app(load_settings(require_config()))
