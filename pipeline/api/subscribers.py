"""``/api/v1/subscribers``: create, get, update (name, lists, fields), tag and untag,
unsubscribe, erase; and ``/api/v1/imports`` (a CSV file, as ``subscribers import``).

The routes call the subscribers stage (``service``, ``profile``, ``tags``, ``erasure``,
``importing``) with ``method="api"`` (what the subscription log records); each call is
added to the audit log, reading a person's record included. Erasing an address also
takes it out of the audit log's earlier entries.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from pipeline.accounts import audit
from pipeline.accounts.users import Account
from pipeline.api.common import (
    ERRORS,
    NOT_FOUND,
    UNAVAILABLE,
    ApiError,
    call,
    doc,
    record,
    require,
)
from pipeline.private import private_dir
from pipeline.subscribers import service
from pipeline.subscribers.erasure import erase
from pipeline.subscribers.importing import import_subscribers
from pipeline.subscribers.profile import check_fields, set_fields
from pipeline.subscribers.tags import tag_subscriber, untag_subscriber
from pipeline.web.pages import WebContext, get_ctx

router = APIRouter(tags=["subscribers"])

#: The largest CSV file ``POST /api/v1/imports`` takes (the app's body limit for it).
MAX_IMPORT = 20_000_000

SUPPRESSED: dict[int | str, dict[str, Any]] = {
    409: doc("The address is suppressed (unsubscribed, bounced, complained or erased).")
}


class SubscriberIn(BaseModel):
    email: str = Field(max_length=320, description="The address (any case).")
    name: str = Field("", max_length=200)
    lists: list[str] = Field(min_length=1, max_length=50, description="List slugs.")
    confirmed: bool = Field(
        True,
        description="true: the person agreed to receive the newsletter (you state it; the "
        "consent is recorded as given through the API). false: unconfirmed, nothing is sent.",
    )
    fields: dict[str, str] = Field(default_factory=dict, description="Custom fields.")
    tags: list[str] = Field(default_factory=list, max_length=50)


class SubscriberPatch(BaseModel):
    name: str | None = Field(None, max_length=200)
    lists: list[str] | None = Field(
        None,
        max_length=50,
        description="Exactly these lists, confirmed; the others end (not suppressed).",
    )
    fields: dict[str, str | None] | None = Field(
        None, description="Fields to set; null removes one. Others are kept."
    )


class TagsIn(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


class UnsubscribeIn(BaseModel):
    lists: list[str] | None = Field(
        None,
        max_length=50,
        description="These lists only; null (the default): every list, and the address is "
        "suppressed so that nothing adds it again.",
    )


class SubscriberOut(BaseModel):
    email: str
    public_id: str
    name: str
    status: str = Field(description="active, unsubscribed, bounced or complained")
    subscriptions: dict[str, str] = Field(
        description="list slug: unconfirmed, confirmed or unsubscribed"
    )
    fields: dict[str, Any]
    tags: list[str]
    created_at: datetime | None


class ErasedOut(BaseModel):
    found: bool = Field(description="there was a subscriber with this address")
    subscriptions: int
    log_entries: int
    deliveries: int


class ImportOut(BaseModel):
    format: str
    rows: int
    added: int
    updated: int
    unchanged: int
    suppressed: int
    newly_suppressed: int
    rejected: int
    ambiguous_dates: int
    rejects_file: str | None = Field(description="where the rejected rows are, on the server")


def _out(info: service.SubscriberInfo) -> SubscriberOut:
    return SubscriberOut(
        email=info.email,
        public_id=info.public_id,
        name=info.name,
        status=info.status,
        subscriptions=info.subscriptions,
        fields=info.attributes,
        tags=info.tags,
        created_at=info.created_at,
    )


def _find(ctx: WebContext, email: str) -> service.SubscriberInfo:
    info = service.get_subscriber(ctx.engine, email=email)
    if info is None:
        raise ApiError(404, f"no subscriber {email.strip().lower()}")
    return info


@router.post(
    "/subscribers",
    summary="Add a subscriber",
    status_code=201,
    response_model=SubscriberOut,
    responses={**ERRORS, **SUPPRESSED, **UNAVAILABLE},
)
async def create_subscriber(
    body: SubscriberIn,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> SubscriberOut:
    """Subscribe an address to lists (an existing subscriber keeps the lists they have and
    gets these; a name given replaces theirs; fields are merged; tags added)."""
    fields = await call(check_fields, body.fields)
    result = await call(
        service.add_subscriber,
        ctx.engine,
        body.email,
        name=body.name,
        lists=body.lists,
        method="api",
        consent_text=f"API token {account.name}",
        ip=ctx.ip(request),
        confirmed=body.confirmed,
        attributes=fields,
        tags=body.tags,
    )
    if result.suppressed:
        raise ApiError(
            409,
            f"{body.email.strip().lower()} is suppressed and was not added "
            "(only the person can come back, through the signup form)",
        )
    info = await call(_find, ctx, body.email)
    await call(record, request, account, "subscriber.add", info.email, {"lists": body.lists})
    return _out(info)


@router.get(
    "/subscribers/{email}",
    summary="One subscriber",
    response_model=SubscriberOut,
    responses={**ERRORS, **NOT_FOUND, **UNAVAILABLE},
)
async def get_subscriber(
    email: str,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> SubscriberOut:
    info = await call(_find, ctx, email)
    await call(record, request, account, "subscriber.view", info.email)
    return _out(info)


@router.patch(
    "/subscribers/{email}",
    summary="Change a subscriber's name, lists or fields",
    response_model=SubscriberOut,
    responses={**ERRORS, **NOT_FOUND, **UNAVAILABLE},
)
async def update_subscriber(
    email: str,
    body: SubscriberPatch,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> SubscriberOut:
    info = await call(_find, ctx, email)
    if body.fields is not None:
        await call(set_fields, ctx.engine, info.id, body.fields, method="api")
    if body.name is not None:
        await call(service.set_name, ctx.engine, info.id, body.name)
    if body.lists is not None:
        await call(
            service.set_lists, ctx.engine, info.id, body.lists, method="api", ip=ctx.ip(request)
        )
    changed = [k for k in ("name", "lists", "fields") if getattr(body, k) is not None]
    await call(record, request, account, "subscriber.update", info.email, {"changed": changed})
    return _out(await call(_find, ctx, email))


@router.post(
    "/subscribers/{email}/tags",
    summary="Add and remove tags",
    response_model=SubscriberOut,
    responses={**ERRORS, **NOT_FOUND, **UNAVAILABLE},
)
async def tag(
    email: str,
    body: TagsIn,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> SubscriberOut:
    info = await call(_find, ctx, email)
    if body.add:
        await call(tag_subscriber, ctx.engine, info.email, body.add, method="api")
    if body.remove:
        await call(untag_subscriber, ctx.engine, info.email, body.remove, method="api")
    detail = {"add": body.add, "remove": body.remove}
    await call(record, request, account, "subscriber.tag", info.email, detail)
    return _out(await call(_find, ctx, email))


@router.post(
    "/subscribers/{email}/unsubscribe",
    summary="Unsubscribe",
    response_model=SubscriberOut,
    responses={**ERRORS, **NOT_FOUND, **UNAVAILABLE},
)
async def unsubscribe(
    email: str,
    body: UnsubscribeIn,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("editor")),
) -> SubscriberOut:
    info = await call(_find, ctx, email)
    await call(
        service.unsubscribe, ctx.engine, info.id, body.lists, method="api", ip=ctx.ip(request)
    )
    await call(
        record, request, account, "subscriber.unsubscribe", info.email, {"lists": body.lists}
    )
    return _out(await call(_find, ctx, email))


@router.delete(
    "/subscribers/{email}",
    summary="Erase a subscriber (GDPR)",
    response_model=ErasedOut,
    responses={**ERRORS, **UNAVAILABLE},
)
async def erase_subscriber(
    email: str,
    request: Request,
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("admin")),
) -> ErasedOut:
    """Erase everything held about the address and suppress it for good (as ``newsletter
    subscribers erase``); earlier audit entries naming it lose the address. Needs admin."""
    report = await call(erase, ctx.engine, email)
    await call(audit.forget_target, ctx.engine, report.email)
    await call(record, request, account, "subscriber.erase", "(erased)", {"found": report.found})
    return ErasedOut(
        found=report.found,
        subscriptions=report.subscriptions,
        log_entries=report.log_entries,
        deliveries=report.deliveries,
    )


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "The CSV file, as 'newsletter subscribers import' reads it.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.post(
    "/imports",
    summary="Import subscribers from CSV",
    response_model=ImportOut,
    responses={**ERRORS, **UNAVAILABLE, 413: doc("The file is larger than 20 MB.")},
    openapi_extra=IMPORT_BODY,
)
async def import_csv(
    request: Request,
    lists: list[str] | None = Query(None, description="Lists for rows that name none."),
    format: str | None = Query(None, max_length=20, description="Default: from the header."),
    confirmed: bool = Query(True, description="false: import as unconfirmed."),
    ctx: WebContext = Depends(get_ctx),
    account: Account = Depends(require("admin")),
) -> ImportOut:
    """Import a CSV file (plain, Mailchimp, listmonk, Ghost, Substack, Buttondown); rows
    that cannot be used are counted and kept in a rejects file on the server. Needs admin."""
    body = await request.body()
    if not body.strip():
        raise ApiError(400, "the CSV file is empty: send it as the request body (text/csv)")
    folder = ctx.settings.var_dir / "imports"
    path = folder / f"api-{ctx.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.csv"

    def run() -> Any:
        private_dir(folder)
        Path(path).write_bytes(body)
        try:
            return import_subscribers(
                ctx.engine,
                path,
                lists=lists or None,
                format=format,
                confirmed=confirmed,
                rejects_dir=ctx.settings.var_dir / "rejects",
            )
        finally:
            path.unlink(missing_ok=True)

    report = await call(run)
    data = report.as_dict()
    await call(
        record,
        request,
        account,
        "subscribers.import",
        "",
        {"rows": report.rows, "added": report.added},
    )
    data.pop("file", None)
    return ImportOut.model_validate(data)
