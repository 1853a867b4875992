"""Recording what a signed-in person or an API token did, with the request's client IP:
one function for the studio's pages and the API (``via`` tells them apart in the log)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from pipeline.accounts import audit
from pipeline.accounts.users import Account
from pipeline.web.pages import get_ctx

__all__ = ["audit_request"]


def audit_request(
    request: Request,
    account: Account,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    *,
    via: str | None = None,
) -> None:
    """Add ``account`` did ``action`` to ``target`` to the audit log (with the client's IP,
    and ``via`` when given)."""
    ctx = get_ctx(request)
    extra: dict[str, Any] = {"ip": ctx.ip(request)}
    if via:
        extra["via"] = via
    audit.record(
        ctx.engine, account.actor, action, target, {**(detail or {}), **extra}, now=ctx.now()
    )
