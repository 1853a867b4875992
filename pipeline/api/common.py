"""What every API route shares: the bearer token, roles, errors as JSON, the audit log.

- ``api_account``: the ``Authorization: Bearer nlt_...`` header's token as an ``Account``
  (``pipeline.accounts.apitokens``); without a valid one, 401 with
  ``WWW-Authenticate: Bearer``. Every route of the API depends on it (``pipeline.api``).
- ``require(role)``: the same, and 403 below ``role`` (editor < approver < admin).
- ``call(fn, ...)``: run a stage function in the thread pool; a ``NewsletterError`` it
  raises becomes an ``ApiError`` with the status of ``STATUS`` and the error's own message
  (what happened and how to fix it).
- errors are ``{"error": "..."}`` with the status (``ApiError``, answered by
  ``api_error``), documented on each route with ``ERRORS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from pipeline.accounts.apitokens import account_for_token
from pipeline.accounts.users import Account, check_role
from pipeline.errors import (
    AccountError,
    ApprovalError,
    CheckFailed,
    ConfigError,
    ContentError,
    NewsletterError,
    RenderError,
    ScheduleError,
    SendError,
    StoreError,
    SubscriberError,
    TransportError,
    WebError,
)
from pipeline.web.audit import audit_request
from pipeline.web.pages import WebContext, get_ctx

T = TypeVar("T")

#: The HTTP status of each kind of NewsletterError in the API (the first that matches).
STATUS: tuple[tuple[type[NewsletterError], int], ...] = (
    (CheckFailed, 422),
    (ContentError, 422),
    (RenderError, 422),
    (ApprovalError, 409),
    (ScheduleError, 409),
    (StoreError, 503),
    (TransportError, 503),
    (SendError, 409),
    (SubscriberError, 400),
    (AccountError, 400),
    (WebError, 400),
    (ConfigError, 500),
)


class ErrorBody(BaseModel):
    """Every error of the API: what happened and how to fix it, in one sentence."""

    error: str


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        self.status = status
        self.message = message
        self.headers = headers
        super().__init__(message)


def doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: The error answers every route documents (routes add their own: 404, 409, 422).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: doc("The request is not valid (the message says which part)."),
    401: doc("No valid bearer token (Authorization: Bearer nlt_...)."),
    403: doc("The token's role is not enough for this."),
    404: doc("No such issue or subscriber (or no such address)."),
    413: doc("The request body is larger than this route accepts."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: doc("No such issue or subscriber.")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: doc("Not possible in the issue's state (the message says why and what to do).")
}
UNPROCESSABLE: dict[int | str, dict[str, Any]] = {
    422: doc("The issue's files have an error (the message names the file and line).")
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: doc("The database or a transport is not available just now; try again later.")
}


async def api_error(request: Request, exc: Exception) -> Response:
    """The app's answer to ``ApiError``."""
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """A request the API cannot read: 400 naming the first field that is wrong."""
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    what = str(first.get("msg", "not valid"))
    message = f"{where}: {what}" if where else what
    return JSONResponse({"error": message[:500]}, status_code=400)


bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token from 'newsletter tokens create --name NAME --role ROLE'.",
)


async def api_account(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ctx: WebContext = Depends(get_ctx),
) -> Account:
    """The account the bearer token acts as; 401 without a valid token."""
    challenge = {"WWW-Authenticate": 'Bearer realm="api"'}
    if credentials is None:
        raise ApiError(
            401,
            "this needs an API token: send 'Authorization: Bearer nlt_...' "
            "(make one with 'newsletter tokens create')",
            challenge,
        )
    try:
        return await run_in_threadpool(
            account_for_token, ctx.engine, credentials.credentials, now=ctx.now()
        )
    except AccountError as exc:
        raise ApiError(
            401, str(exc), {**challenge, "WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from None


def require(role: str) -> Callable[..., Any]:
    """A dependency: the token's account, which must have ``role`` or above (else 403)."""
    check_role(role)

    async def dependency(account: Account = Depends(api_account)) -> Account:
        if not account.can(role):
            raise ApiError(403, f"this needs a token with the {role} role or above")
        return account

    return dependency


def status_of(exc: NewsletterError) -> int:
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 400)


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in the thread pool; its NewsletterError as an ApiError."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except NewsletterError as exc:
        status = status_of(exc)
        message = str(exc) if status < 500 else "the server cannot do this just now"
        raise ApiError(status, message) from None


def record(
    request: Request,
    account: Account,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add what the token did to the audit log (with the client's IP)."""
    audit_request(request, account, action, target, detail, via="api")
