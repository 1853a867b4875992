"""``POST /webhooks/sendgrid``: SendGrid's signed Event Webhook.

The ECDSA signature is checked over the signed timestamp followed by the exact raw body
(with the sendgrid package's ``EventWebhook`` helper) before anything is parsed; then the
timestamp's age (``[web] webhook_max_age``). Answers: 200 with counts; 400 for a body that
is not a JSON list; 401 without the signature headers; 403 for a bad signature or an old
timestamp; 413 for a body over 5 MB; 503 when SENDGRID_WEBHOOK_PUBLIC_KEY is not set.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from pipeline.web.events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    record_events,
    signature_ok,
    timestamp_fresh,
)
from pipeline.web.pages import WebContext, get_ctx

router = APIRouter()

MAX_BODY = 5_000_000

WEBHOOK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "email": {"type": "string"},
                            "event": {"type": "string"},
                            "timestamp": {"type": "integer"},
                            "sg_event_id": {"type": "string"},
                            "delivery_id": {"type": "string"},
                            "edition_id": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                }
            }
        },
    },
    "parameters": [
        {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": TIMESTAMP_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
    ],
}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@router.post(
    "/webhooks/sendgrid",
    summary="SendGrid Event Webhook (signed)",
    openapi_extra=WEBHOOK_BODY,
)
async def sendgrid_events(request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    if ctx.webhook_verifier is None:
        return _error(503, "the webhook is not configured: set SENDGRID_WEBHOOK_PUBLIC_KEY")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        return _error(401, "missing signature headers")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return _error(413, "body too large")
    if not signature_ok(ctx.webhook_verifier, body, signature, timestamp):
        return _error(403, "invalid signature")
    if not timestamp_fresh(timestamp, ctx.now(), ctx.settings.web.webhook_max_age):
        return _error(403, "timestamp too old")
    try:
        events = json.loads(body)
    except (ValueError, RecursionError):
        return _error(400, "the body is not JSON")
    if not isinstance(events, list):
        return _error(400, "the body is not a JSON list of events")
    report = await run_in_threadpool(
        record_events, ctx.engine, events, now=ctx.now(), rules=ctx.settings.bounces
    )
    return JSONResponse(
        {
            "received": report.received,
            "recorded": report.recorded,
            "duplicates": report.duplicates,
            "ignored": report.ignored,
        }
    )
