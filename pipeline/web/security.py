"""Safety for every page: security headers, CSRF tokens, the client's IP, a generic 500.

CSRF uses the double-submit pattern with a signed token: the first page view sets the
``nl_csrf`` cookie (HttpOnly, SameSite=Lax) to a random value followed by the server's own
HMAC of it, so a value a client (or a sibling subdomain) plants is refused; every form
carries a hidden ``csrf_token`` that is that value signed with the secret key (itsdangerous,
2 days). A POST is accepted only when the cookie was issued by this server, the token's
signature holds and it signs the cookie's value. No state
is kept on the server, so any number of workers agree.

Exempt on purpose: the RFC 8058 one-click POST (exactly ``List-Unsubscribe=One-Click``, sent
by mail providers with no cookies), JSON signups (a browser cannot send
``application/json`` cross-site without a CORS preflight, which this app never grants) and
the signed SendGrid webhook.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Sequence
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.web.logs import redact_path

log = logging.getLogger("pipeline.web")

CSRF_COOKIE = "nl_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 2 * 24 * 3600

#: Sent with every response. Issue pages use inline styles (email HTML), images from
#: anywhere over HTTPS; no scripts at all.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' https: data:; font-src 'self' https: data:; "
        "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: The signup form's policy: the same, plus this app's own scripts and workers (the ALTCHA
#: widget, vendored and served from /static). Still no inline script and no other origin.
FORM_CSP = (
    SECURITY_HEADERS["Content-Security-Policy"]
    .replace("script-src 'none'", "script-src 'self'")
    .replace("default-src 'self';", "default-src 'self'; worker-src 'self';")
)

GENERIC_500 = (
    b"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
    b"<meta name='viewport' content='width=device-width,initial-scale=1'>"
    b"<title>Something went wrong</title></head><body style='font-family:sans-serif;"
    b"max-width:36rem;margin:3rem auto;padding:0 1rem;color:#2b2330'>"
    b"<h1>Something went wrong</h1><p>Sorry, this page could not be shown. "
    b"Please try again in a few minutes.</p><p><a href='/'>Back to the archive</a></p>"
    b"</body></html>"
)


class SecurityHeaders:
    """ASGI middleware: adds SECURITY_HEADERS (and HSTS over HTTPS) to every response, and
    turns any unhandled exception into a generic 500 page (the traceback goes to the log,
    never to the visitor)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            path = redact_path(scope.get("path", ""))
            log.exception("unhandled error on %s %s", scope.get("method"), path)
            if started:
                raise
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"text/html; charset=utf-8"),
                        (b"content-length", str(len(GENERIC_500)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": GENERIC_500})


# ---- paths -----------------------------------------------------------------------------------
#: The longest path any page has (tokens are a few hundred characters at most).
MAX_PATH = 2048

NOT_FOUND = (
    b"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Not found</title>"
    b"</head><body><h1>Not found</h1><p>There is nothing at this address.</p>"
    b"<p><a href='/'>Back to the archive</a></p></body></html>"
)
NOT_FOUND_JSON = b'{"error": "There is nothing at this address."}'
TOO_LARGE_JSON = b'{"error": "This request is larger than this address accepts."}'
HTML = b"text/html; charset=utf-8"


def for_api(scope: Scope) -> bool:
    """The HTTP API (``/api/``) answers JSON, even before any route runs."""
    return str(scope.get("path", "")).startswith("/api/")


def bad_path(path: str, raw_path: bytes | None) -> bool:
    """True for a path no page has: a control character (a NUL byte, decoded from %00),
    bytes that are not UTF-8, or longer than MAX_PATH."""
    raw = raw_path if raw_path is not None else path.encode("utf-8", "surrogateescape")
    if len(raw) > MAX_PATH or len(path) > MAX_PATH:
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return True
    # U+FFFD: the server's decoding of bytes that are not UTF-8 (%ff)
    return any(ord(c) < 32 or ord(c) == 127 or c == "\ufffd" for c in path)


class PathGuard:
    """ASGI middleware: a bad path (see ``bad_path``) is answered 404 before any route
    runs, so no route ever sees a NUL byte or a 5,000-character path (which used to give
    500 from the file system)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not bad_path(scope.get("path", ""), scope.get("raw_path")):
            await self.app(scope, receive, send)
            return
        api = for_api(scope)
        body = NOT_FOUND_JSON if api else NOT_FOUND
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [
                    (b"content-type", b"application/json" if api else HTML),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# ---- request bodies --------------------------------------------------------------------------
TOO_LARGE = (
    b"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Too large</title>"
    b"</head><body><h1>Too large</h1><p>This request is larger than this page accepts.</p>"
    b"</body></html>"
)


class BodyLimit:
    """ASGI middleware: every request body is read with a hard cap before any route runs,
    whether it comes with a Content-Length or chunked. Over the cap the answer is 413 at once
    (the rest is never read); under it the route gets the body from memory.

    ``limits`` maps a path prefix to its cap (the longest matching prefix wins);
    ``default`` applies elsewhere."""

    def __init__(self, app: ASGIApp, *, default: int, limits: dict[str, int] | None = None):
        self.app = app
        self.default = default
        self.limits = sorted((limits or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(send, for_api(scope))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, for_api(scope))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(send: Send, api: bool = False) -> None:
        body = TOO_LARGE_JSON if api else TOO_LARGE
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json" if api else HTML),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def read_small_form(request: Request, limit: int) -> FormData | None:
    """The urlencoded or multipart form of a request whose body is at most ``limit`` bytes
    (None when larger, or not a form that can be read)."""
    body = await request.body()  # already capped by BodyLimit; this is the route's own cap
    if len(body) > limit:
        return None
    try:
        return await request.form(max_files=0, max_fields=50)
    except Exception:  # malformed form encoding
        return None


# ---- CSRF --------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="newsletter.csrf")


def _cookie_mac(secret: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), b"newsletter.csrf-cookie:" + nonce.encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()).decode("ascii").rstrip("=")


def issue_csrf_cookie(secret: str) -> str:
    """A new CSRF cookie value: a random nonce and this server's HMAC of it."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_cookie_mac(secret, nonce)}"


def csrf_cookie_issued(secret: str, value: str | None) -> bool:
    """True when ``value`` is a CSRF cookie this server issued (not one a client planted)."""
    if not value or len(value) > 100 or value.count(".") != 1:
        return False
    nonce, mac = value.split(".")
    return len(nonce) >= 20 and hmac.compare_digest(mac, _cookie_mac(secret, nonce))


def csrf_cookie_value(request: Request, secret: str) -> tuple[str, bool]:
    """The visitor's CSRF cookie value, and whether it is new (must be set). A value the
    server did not issue is replaced."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if csrf_cookie_issued(secret, current):
        return current, False
    return issue_csrf_cookie(secret), True


def make_csrf_token(secret: str, cookie_value: str) -> str:
    """The hidden form field's value for this cookie."""
    return _serializer(secret).dumps(cookie_value)


def csrf_ok(secret: str, cookie_value: str | None, token: str | None) -> bool:
    """True when ``cookie_value`` was issued by this server and ``token`` is a fresh
    signature of it."""
    if cookie_value is None or not csrf_cookie_issued(secret, cookie_value):
        return False
    if not token or len(token) > 500:
        return False
    try:
        signed = _serializer(secret).loads(token, max_age=CSRF_MAX_AGE)
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, cookie_value)


# ---- the client's address -------------------------------------------------------------------
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in trusted)


def _is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_ip(request: Request, trusted_proxies: Sequence[str]) -> str:
    """The visitor's IP. X-Forwarded-For is honoured only when the connection comes from a
    trusted proxy; then the right-most address that is not a trusted proxy is the client."""
    peer = request.client.host if request.client else ""
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _is_trusted(peer, networks):
        return peer or "unknown"
    forwarded = [
        part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part
    ]
    for hop in reversed(forwarded):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return forwarded[0] if forwarded else peer
