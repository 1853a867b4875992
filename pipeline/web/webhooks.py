"""``POST /webhooks/sendgrid``: SendGrid's signed Event Webhook.

The ECDSA signature is checked over the signed timestamp followed by the exact raw body
(with the sendgrid package's ``EventWebhook`` helper) before anything is parsed; then the
timestamp's age (``[web] webhook_max_age``). Answers: 200 with counts; 400 for a body that
is not a JSON list; 401 without the signature headers; 403 for a bad signature or an old
timestamp; 413 for a body over 5 MB; 503 when SENDGRID_WEBHOOK_PUBLIC_KEY is not set.
What the events do is the sending stage's (``pipeline.sending.events.record_events``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from pipeline.errors import ConfigError
from pipeline.sending.events import record_events
from pipeline.web.pages import WebContext, answers, get_ctx

router = APIRouter()

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


# ---- the signature --------------------------------------------------------------------------
def load_public_key(public_key: str) -> Any:
    """The verification key from SENDGRID_WEBHOOK_PUBLIC_KEY (base64 DER, as SendGrid shows
    it), as an EventWebhook helper; ConfigError when it cannot be read."""
    from sendgrid.helpers.eventwebhook import EventWebhook

    cleaned = "".join(public_key.split())
    try:
        return EventWebhook(cleaned)
    except (ValueError, TypeError):
        raise ConfigError(
            "SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key",
            fix="copy the verification key from SendGrid: Settings > Mail Settings > "
            "Event Webhook > Signed Event Webhook",
        ) from None


def signature_ok(verifier: Any, body: bytes, signature: str, timestamp: str) -> bool:
    """True when ``signature`` signs ``timestamp`` + the exact raw ``body``."""
    try:
        payload = body.decode("utf-8")  # the helper encodes it back to the same bytes
        return bool(verifier.verify_signature(payload, signature, timestamp))
    except (ValueError, TypeError):  # bad base64, bad DER, not UTF-8
        return False


def timestamp_fresh(timestamp: str, now: datetime, max_age: int) -> bool:
    """True when the signed timestamp (unix seconds) is within ``max_age`` of ``now``."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(now.timestamp() - int(timestamp)) <= max_age


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


#: Every answer is JSON: the counts, or {"error": ...}.
WEBHOOK_RESPONSES = answers(
    401,
    403,
    html=False,
    ok={
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    k: {"type": "integer"}
                    for k in ("received", "recorded", "duplicates", "ignored")
                },
                "required": ["received", "recorded", "duplicates", "ignored"],
            }
        }
    },
)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@router.post(
    "/webhooks/sendgrid",
    summary="SendGrid Event Webhook (signed)",
    openapi_extra=WEBHOOK_BODY,
    responses=WEBHOOK_RESPONSES,
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
