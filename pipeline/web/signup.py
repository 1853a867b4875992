"""Signup with double opt-in: ``GET/POST /subscribe`` and ``GET /confirm/{token}``.

POST takes the page's form (CSRF token required) or JSON from a site's own form. Every
accepted request gets the same answer whether the address is new, known or suppressed (no
account enumeration). In order: CSRF (forms), the fields (mistakes are shown, not
counted), the per-IP rate limit (counted in the database, so every worker agrees), then the
honeypot field ``website`` (filled: answer as usual, do nothing). Consent is recorded
with the subscription: when, the IP, the exact text shown, the lists.

The rules are the stage's (``pipeline.subscribers.signup``): lists with double opt-in
start 'unconfirmed' and a confirmation email is queued, in the signup's own transaction;
the app's queue worker sends it off the request path (``pipeline.sending.mail_queue``), so
no answer waits for, or depends on, an email. The link (``/confirm/<token>``, 7 days, the
lists inside the signature) opens a page with one button (link scanners only GET); its
POST confirms them, once, and queues the welcome email. A suppressed address (unsubscribed
or bounced before) is changed only by that link: the person proves the mailbox is theirs
before anything is lifted. Details of a known subscriber (their name) are never changed by
the public form.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from pipeline.config import Settings
from pipeline.errors import SubscriberError, WebError
from pipeline.sending.localtime import known_zone
from pipeline.subscribers import service
from pipeline.subscribers.links import subscriber_for_token
from pipeline.subscribers.lists import list_names
from pipeline.subscribers.names import MAX_NAME, check_signup_name
from pipeline.subscribers.service import SubscriberInfo
from pipeline.subscribers.signup import Signup, consent_text
from pipeline.subscribers.signup import confirm_signup as confirm_in_stage
from pipeline.subscribers.signup import sign_up as sign_up_in_stage
from pipeline.subscribers.tags import signup_fields
from pipeline.tokens import Token, make_token, read_token
from pipeline.web.botcheck import FIELD as ALTCHA_FIELD
from pipeline.web.botcheck import solution_ok
from pipeline.web.pages import (
    REASONS,
    WebContext,
    answers,
    error_page,
    get_ctx,
    page,
    wants_json,
)
from pipeline.web.ratelimit import count_hit, network_of
from pipeline.web.security import CSRF_COOKIE, CSRF_FIELD, FORM_CSP, csrf_ok, read_small_form
from pipeline.web.unsubscribe import mask_email

log = logging.getLogger("pipeline.web")
router = APIRouter()

HONEYPOT = "website"
MAX_FORM_BYTES = 64_000
MAX_CONFIRM_BYTES = 4_000

SIGNUP_FIELDS = {
    "email": {"type": "string", "maxLength": 320},
    "name": {"type": "string", "maxLength": 200, "description": f"at most {MAX_NAME} letters"},
    "fields": {
        "type": "object",
        "description": "custom fields configured in [[audience.signup_fields]]",
        "additionalProperties": {"type": "string", "maxLength": 200},
    },
    "lists": {"type": "array", "items": {"type": "string"}},
    "consent": {"type": "boolean"},
    HONEYPOT: {"type": "string"},
    ALTCHA_FIELD: {"type": "string", "maxLength": 4000},
    # The visitor's time zone, filled in by the browser (static/timezone.js): an IANA name
    # stored as the ``timezone`` field of a new subscriber (local-time sending)
    "timezone": {"type": "string", "maxLength": 64},
}
SIGNUP_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": SIGNUP_FIELDS,
                    "required": ["email", "consent"],
                }
            },
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **SIGNUP_FIELDS,
                        "consent": {"type": "string"},
                        CSRF_FIELD: {"type": "string"},
                    },
                    "required": ["email"],
                }
            },
        },
    }
}


#: What POST /subscribe answers: the thanks page (forms) or 202 JSON (JSON posts and
#: clients that ask for JSON); 403 (expired form, another site, no proof of work), 422 (the
#: mistakes: the form again, or JSON naming each field) and 429 (Retry-After) as a page or
#: JSON, like every error.
SIGNUP_RESPONSES = answers(403, 422, 429)
SIGNUP_RESPONSES[202] = {
    "description": REASONS[202],
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
                "required": ["status", "message"],
            }
        }
    },
}
SIGNUP_RESPONSES[422]["content"]["application/json"] = {
    "schema": {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["error"],
    }
}
SIGNUP_RESPONSES[429]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}


def own_origin(settings: Settings) -> str:
    """``scheme://host[:port]`` of the public base URL (what browsers send as Origin)."""
    parts = urlsplit(settings.newsletter.base_url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class SignupForm:
    email: str = ""
    name: str = ""
    lists: list[str] = field(default_factory=list)
    consent: bool = False
    honeypot: str = ""
    csrf_token: str = ""
    altcha: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # [[audience.signup_fields]]
    timezone: str = ""  # the browser's zone (hidden field), kept when it is a known zone


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_fields(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _as_text(v) for k, v in list(value.items())[:50]}


def _parse_json(data: Any) -> SignupForm:
    if not isinstance(data, dict):
        return SignupForm(errors={"form": "Send a JSON object with email, lists and consent."})
    lists = data.get("lists", [])
    if isinstance(lists, str):
        lists = [lists]
    return SignupForm(
        email=_as_text(data.get("email")),
        name=_as_text(data.get("name")),
        lists=[x for x in lists if isinstance(x, str)] if isinstance(lists, list) else [],
        consent=data.get("consent") is True,
        honeypot=_as_text(data.get(HONEYPOT)),
        fields=_json_fields(data.get("fields")),
        altcha=_as_text(data.get(ALTCHA_FIELD)),
        timezone=_as_text(data.get("timezone")),
    )


def _parse_json_bytes(raw: bytes) -> SignupForm:
    """JSON from the body (at most MAX_FORM_BYTES), in a worker thread."""
    return _parse_json(json.loads(raw))


def validate(settings: Settings, form: SignupForm) -> SignupForm:
    """Fill ``form.errors`` (field -> message for people) and normalise the values."""
    try:
        form.email = service.normalise_email(form.email)
    except SubscriberError:
        form.errors["email"] = "Please enter your email address, like you@example.com."
    form.name, problem = check_signup_name(form.name)  # length, letters, no link or address
    if problem:
        form.errors["name"] = problem
    known = settings.list_slugs
    chosen = list(dict.fromkeys(s for s in form.lists if s in known))
    if len(known) == 1:
        chosen = known
    if not chosen:
        form.errors["lists"] = "Please choose at least one list."
    form.lists = chosen
    if not form.consent:
        form.errors["consent"] = "Please tick the box to agree to receive our emails."
    form.fields, problems = signup_fields(settings, form.fields)
    form.errors.update({f"field_{k}": v for k, v in problems.items()})
    # The browser's zone, for local-time sending; a name that is not a zone is dropped
    # (the visitor never sees the field, so there is nothing for them to correct).
    if known_zone(form.timezone) is not None and "timezone" not in form.fields:
        form.fields["timezone"] = form.timezone
    return form


def sign_up(ctx: WebContext, form: SignupForm, ip: str) -> None:
    """The stage's signup (subscriptions and queued emails, one transaction); the queue
    worker is woken to send them. Nothing is sent here, whatever the address."""
    sign_up_in_stage(
        ctx.settings,
        ctx.engine,
        Signup(
            email=form.email,
            lists=form.lists,
            name=form.name,
            fields=form.fields,
            consent_text=consent_text(ctx.settings),
            ip=ip,
        ),
        now=ctx.now(),
    )
    worker = ctx.extra.get("mail_queue")
    if worker is not None:
        worker.wake()


def _thanks_message(settings: Settings, lists: list[str]) -> str:
    if any((found := settings.list_named(s)) and found.double_opt_in for s in lists):
        return (
            "Almost done: we have sent you an email. Please open the link in it to confirm "
            "your subscription (it works for 7 days)."
        )
    return "Thank you! Look out for our welcome email in your inbox."


def _form_page(
    request: Request, ctx: WebContext, form: SignupForm, status: int = 200, **extra: Any
) -> Response:
    return page(
        request,
        "subscribe.html",
        status,
        headers={"Content-Security-Policy": FORM_CSP},
        form=form,
        consent=consent_text(ctx.settings),
        honeypot=HONEYPOT,
        signup_fields=[f for f in ctx.settings.audience.signup_fields if not f.hidden],
        altcha=ctx.settings.web.altcha,
        zone_script=True,  # this page's policy allows the app's own scripts
        **extra,
    )


@router.get(
    "/subscribe", summary="The signup form", response_class=HTMLResponse, responses=answers()
)
async def subscribe_form(
    request: Request, lists: str = "", ctx: WebContext = Depends(get_ctx)
) -> Response:
    chosen = [s for s in lists.split(",") if s in ctx.settings.list_slugs] if lists else []
    return _form_page(request, ctx, SignupForm(lists=chosen or ctx.settings.list_slugs))


async def _read_form(request: Request) -> SignupForm:
    raw = await request.form(max_files=0, max_fields=50)
    return SignupForm(
        email=_as_text(raw.get("email")),
        name=_as_text(raw.get("name")),
        lists=[x for x in raw.getlist("lists") if isinstance(x, str)],
        consent=_as_text(raw.get("consent")) in ("yes", "on", "true", "1"),
        honeypot=_as_text(raw.get(HONEYPOT)),
        csrf_token=_as_text(raw.get(CSRF_FIELD)),
        fields={
            str(key)[6:]: _as_text(value)
            for key, value in raw.items()
            if str(key).startswith("field_")
        },
        altcha=_as_text(raw.get(ALTCHA_FIELD)),
        timezone=_as_text(raw.get("timezone")),
    )


@router.post(
    "/subscribe",
    summary="Sign up (form or JSON)",
    openapi_extra=SIGNUP_BODY,
    response_class=HTMLResponse,
    responses=SIGNUP_RESPONSES,
)
async def subscribe(request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    settings = ctx.settings
    is_json = request.headers.get("content-type", "").startswith("application/json")
    raw = await request.body()  # read under a hard cap by BodyLimit, chunked or not
    if len(raw) > MAX_FORM_BYTES:
        return error_page(request, 413, "The form is too large.")
    # Every post counts against the limit, valid or not, so bad posts cannot be repeated
    # for free.
    ip = ctx.ip(request)
    verdict = await run_in_threadpool(
        count_hit,
        ctx.engine,
        f"signup:{network_of(ip)}",
        limit=settings.web.signup_rate_limit,
        window=settings.web.signup_rate_window,
        now=ctx.now(),
    )
    if not verdict.allowed:
        minutes = max(1, -(-verdict.retry_after // 60))
        return error_page(
            request,
            429,
            f"Too many signups from your network. Please try again in {minutes} minutes.",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    try:
        if is_json:
            form = await run_in_threadpool(_parse_json_bytes, raw)
        else:
            form = await _read_form(request)
    except Exception:  # malformed JSON or form encoding
        return error_page(request, 400, "The form could not be read. Please try again.")
    origin = request.headers.get("origin")
    # Our pages send no referrer, so the browser says "Origin: null" for their own posts;
    # like a missing Origin (scripts), that means the CSRF token decides.
    embedded = origin not in (None, "null", own_origin(settings))
    if embedded and origin not in settings.web.embed_origins:
        log.info("signup refused from origin %s (not in web.embed_origins)", origin)
        return error_page(request, 403, "This form cannot be used from another site.")
    # Forms on our own pages carry the CSRF token; the embedded form (other sites, listed in
    # web.embed_origins) cannot, and relies on the proof of work, the limits and double
    # opt-in instead.
    if (
        not is_json
        and not embedded
        and not csrf_ok(
            settings.secrets.secret_key, request.cookies.get(CSRF_COOKIE), form.csrf_token
        )
    ):
        form.errors["form"] = "This form had expired. Please check it and send it again."
        return _form_page(request, ctx, form, 403)
    if settings.web.altcha and not await run_in_threadpool(solution_ok, ctx, form.altcha):
        message = "Please wait until the check that you are not a robot is done, then send again."
        if is_json or embedded:
            return error_page(request, 403, message)
        form.errors["form"] = message
        return _form_page(request, ctx, form, 403)
    if "form" not in form.errors:
        validate(settings, form)
    if form.errors and not form.honeypot:
        if is_json:
            return JSONResponse(
                {"error": "Please check the form.", "fields": form.errors}, status_code=422
            )
        return _form_page(request, ctx, form, 422)
    message = _thanks_message(settings, form.lists)
    if not form.honeypot:  # a database error reaches the app's handler (503)
        await run_in_threadpool(sign_up, ctx, form, ip)
    if is_json or wants_json(request):
        return JSONResponse({"status": "ok", "message": message}, status_code=202)
    return page(request, "thanks.html", message=message)


CONFIRM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {CSRF_FIELD: {"type": "string"}}}
            }
        },
    }
}


def _confirm_token(ctx: WebContext, token: str) -> tuple[Token, SubscriberInfo]:
    """The confirmation token's content and its subscriber; WebError when it may not act."""
    data = read_token(ctx.settings.keys, "confirm", token)
    info = subscriber_for_token(ctx.engine, data)
    if info is None:
        raise WebError("this link is not valid any more", fix="sign up again")
    return data, info


@router.get(
    "/confirm/{token}",
    summary="The confirmation page (one button; changes nothing)",
    response_class=HTMLResponse,
    responses=answers(),
)
async def confirm_page(
    token: str, request: Request, ctx: WebContext = Depends(get_ctx)
) -> Response:
    data, info = await run_in_threadpool(_confirm_token, ctx, token)  # WebError: 400
    wanted = [s for s in data.data.split(",") if s in ctx.settings.list_slugs]
    return page(
        request,
        "confirm.html",
        token=token,
        masked=mask_email(info.email),
        list_names=list_names(ctx.settings, wanted),
        message="",
    )


@router.post(
    "/confirm/{token}",
    summary="Confirm a subscription",
    openapi_extra=CONFIRM_BODY,
    response_class=HTMLResponse,
    responses=answers(403),
)
async def confirm(token: str, request: Request, ctx: WebContext = Depends(get_ctx)) -> Response:
    form = await read_small_form(request, MAX_CONFIRM_BYTES)
    if form is None:
        return error_page(request, 413, "The form is too large.")
    csrf = form.get(CSRF_FIELD)
    if not csrf_ok(
        ctx.settings.secrets.secret_key,
        request.cookies.get(CSRF_COOKIE),
        csrf if isinstance(csrf, str) else None,
    ):
        return error_page(request, 403, "This page had expired. Please open the link again.")
    outcome = await run_in_threadpool(confirm_signup, ctx, token, ctx.ip(request))
    return page(request, "confirmed.html", **outcome)


def confirm_signup(ctx: WebContext, token: str, ip: str) -> dict[str, Any]:
    """The stage's confirmation (once; the welcome is queued), and what the page shows."""
    settings = ctx.settings
    data = read_token(settings.keys, "confirm", token)
    done = confirm_in_stage(settings, ctx.engine, token, data, ip=ip, now=ctx.now())
    worker = ctx.extra.get("mail_queue")
    if worker is not None and done.welcomed:
        worker.wake()
    return {
        "welcomed": done.welcomed,
        "list_names": list_names(settings, done.confirmed),
        "preferences_url": "/preferences/"
        + make_token(settings.keys, "preferences", done.public_id),
    }
