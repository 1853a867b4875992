"""Bot protection without a third party: ALTCHA proof of work (the ``altcha`` package).

``GET /altcha/challenge`` hands out a challenge signed with a key derived from
NEWSLETTER_SECRET_KEY: find the counter whose PBKDF2-SHA-256 key starts with a given prefix
(``web.altcha_cost`` iterations per try, the counter drawn from the upper half of
``web.altcha_max_counter``: a browser spends about a second; a bot pays that per signup).
The widget (vendored from npm under ``static/vendor/altcha``, served by the app) solves it
in web workers and puts the answer in the form's ``altcha`` field.

A solution is accepted once (its challenge signature is remembered until it expires), within
20 minutes of the challenge. Verification is fast: the server signed the expected key when
it made the challenge, so it only checks two HMACs.

The challenge is also served to the origins of ``web.embed_origins`` (CORS), for the
embeddable form.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from altcha import create_challenge, verify_solution
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from pipeline.config import Settings
from pipeline.subscribers.links import spend_once
from pipeline.web.pages import WebContext, answers, get_ctx

router = APIRouter()

ALGORITHM = "PBKDF2/SHA-256"
LIFETIME = timedelta(minutes=20)
FIELD = "altcha"
MAX_PAYLOAD = 4_000

#: A signed ALTCHA challenge (JSON), or the errors every route may give.
CHALLENGE_RESPONSES = answers(ok={"application/json": {"schema": {"type": "object"}}})


def _secrets(settings: Settings) -> tuple[str, str]:
    """The challenge-signing and key-signing secrets, derived from the signing key."""
    key = settings.secrets.secret_key.encode()
    sign = hmac.digest(key, b"newsletter.altcha.challenge", "sha256").hex()
    derived = hmac.digest(key, b"newsletter.altcha.key", "sha256").hex()
    return sign, derived


def new_challenge(settings: Settings) -> dict[str, Any]:
    """A fresh challenge as the widget expects it (JSON object)."""
    top = settings.web.altcha_max_counter
    counter = top // 2 + secrets.randbelow(top - top // 2)
    sign, derived = _secrets(settings)
    challenge = create_challenge(
        algorithm=ALGORITHM,
        cost=settings.web.altcha_cost,
        counter=counter,
        expires_at=datetime.now(UTC) + LIFETIME,
        hmac_secret=sign,
        hmac_key_secret=derived,
    )
    result: dict[str, Any] = challenge.to_dict()
    return result


def solution_ok(ctx: WebContext, payload: str) -> bool:
    """True for a correct, unexpired, not yet used solution (then it is used up)."""
    if not payload or len(payload) > MAX_PAYLOAD:
        return False
    sign, derived = _secrets(ctx.settings)
    try:
        result = verify_solution(payload, sign, hmac_key_secret=derived)
    except (ValueError, TypeError, KeyError):
        return False
    if not result.verified:
        return False
    try:
        signature = str(json.loads(base64.b64decode(payload))["challenge"]["signature"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return False
    now = datetime.now(UTC)
    return spend_once(ctx.engine, signature, "altcha", now + LIFETIME, now=now)


def cors_headers(ctx: WebContext, request: Request) -> dict[str, str]:
    """CORS headers for a request from an allowed embedding origin (else none)."""
    origin = request.headers.get("origin", "")
    if origin and origin in ctx.settings.web.embed_origins:
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }
    return {"Vary": "Origin"}


@router.get(
    "/altcha/challenge",
    summary="A proof-of-work challenge for the signup form",
    responses=CHALLENGE_RESPONSES,
)
async def challenge(request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    data = await run_in_threadpool(new_challenge, ctx.settings)
    headers = {"Cache-Control": "no-store", **cors_headers(ctx, request)}
    return JSONResponse(data, headers=headers)


@router.options("/altcha/challenge", include_in_schema=False)
async def challenge_preflight(request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    return Response(status_code=204, headers=cors_headers(ctx, request))
