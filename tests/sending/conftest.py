"""Fixtures of the sending tests: an audience bulk-inserted with SQL, a compiled edition."""

from __future__ import annotations

import http.server
import json
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from sqlalchemy import Engine, insert, select

from pipeline.render.personalise import CompiledEdition, compile_edition, placeholder
from pipeline.sending.editions import store_edition
from pipeline.store.tables import lists, subscribers, subscriptions, utcnow
from tests.conftest import DATA, free_port


def add_audience(
    engine: Engine,
    count: int,
    *,
    list_slug: str = "beauty-tips",
    start: int = 0,
    name: Callable[[int], str] = lambda i: f"Reader {i}",
    email: Callable[[int], str] = lambda i: f"reader{i}@example.org",
) -> list[int]:
    """Insert ``count`` active subscribers confirmed on ``list_slug``; return their ids."""
    now = utcnow()
    with engine.begin() as conn:
        list_id = conn.execute(select(lists.c.id).where(lists.c.slug == list_slug)).scalar()
        if list_id is None:
            list_id = conn.execute(
                insert(lists).values(slug=list_slug, name=list_slug, created_at=now)
            ).inserted_primary_key[0]  # type: ignore[index]
        rows = [
            {
                "email": email(i),
                "name": name(i),
                "attributes": {},
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, start + count)
        ]
        if rows:
            conn.execute(insert(subscribers), rows)
        ids = [
            r[0]
            for r in conn.execute(
                select(subscribers.c.id)
                .where(subscribers.c.email.in_([r["email"] for r in rows]))
                .order_by(subscribers.c.id)
            )
        ]
        if ids:
            conn.execute(
                insert(subscriptions),
                [
                    {
                        "subscriber_id": sid,
                        "list_id": list_id,
                        "status": "confirmed",
                        "consent_method": "import",
                        "consent_text": "test",
                        "updated_at": now,
                    }
                    for sid in ids
                ],
            )
    return ids


def sample_compiled(subject_slot: bool = True) -> CompiledEdition:
    subject = "Glow notes for " + placeholder("first_name", "you") if subject_slot else "Glow"
    html = (
        "<html><body><p>Hi "
        + placeholder("first_name", "there")
        + ",</p><p>Microneedling: what it does &amp; does not do. Crème, café, 💄.</p>"
        + '<a href="'
        + placeholder("unsubscribe_url")
        + '">Unsubscribe</a> <a href="'
        + placeholder("preferences_url")
        + '">Preferences</a></body></html>'
    )
    text = (
        "Hi "
        + placeholder("first_name", "there")
        + ",\n\nMicroneedling: what it does and does not do.\n\nUnsubscribe: "
        + placeholder("unsubscribe_url")
        + "\n"
    )
    return compile_edition(subject, html, text, preheader="Tips")


@pytest.fixture
def compiled() -> CompiledEdition:
    return sample_compiled()


def make_edition(
    engine: Engine, slug: str = "2026-12-01-test", lists_: tuple[str, ...] = ("beauty-tips",)
) -> int:
    return store_edition(engine, slug, sample_compiled(), lists=list(lists_), content_hash="0" * 64)


# ---- an SMTP server that records what it accepts and misbehaves on demand ---------------
class RecordingHandler:
    """aiosmtpd handler: ``accepted`` holds (recipient, Message-ID) of every message taken.

    ``script`` is a list of answers for the next DATA commands ("421 ...", "451 ...",
    "drop" to cut the connection, or "stall" to answer 250 only after ``stall_seconds``);
    ``refuse`` answers RCPT with 550 for these addresses; ``delay`` seconds are waited
    before every DATA answer (a slow relay). ``smtputf8`` records the recipients of
    messages sent with MAIL FROM ... SMTPUTF8. ``pipelining`` (on by default) offers
    PIPELINING, so the client may send MAIL, RCPT and DATA in one write.
    """

    def __init__(self) -> None:
        self.accepted: list[tuple[str, str]] = []
        self.script: list[str] = []
        self.refuse: set[str] = set()
        self.always: str | None = None
        self.delay = 0.0
        self.stall_seconds = 1.0
        self.smtputf8: list[str] = []
        self.pipelining = True  # offer PIPELINING (RFC 2920) in the EHLO answer
        self.last = b""
        self.target = 0  # when this many messages are accepted, ``reached`` is set
        self.reached = threading.Event()
        self.lock = threading.Lock()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:  # as postfix, SendGrid and SES offer it
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 <" + address + ">: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        with self.lock:
            answer = self.script.pop(0) if self.script else self.always
        if self.delay:
            await asyncio.sleep(self.delay)
        if answer == "drop":
            server.transport.close()
            return "421 dropped"
        if answer == "stall":
            await asyncio.sleep(self.stall_seconds)
            answer = None
        if "SMTPUTF8" in [o.upper() for o in envelope.mail_options]:
            with self.lock:
                self.smtputf8.extend(envelope.rcpt_tos)
        if answer:
            return answer
        content: bytes = envelope.content
        self.last = content
        start = content.find(b"\r\nMessage-ID: ") + 14
        message_id = content[start : content.find(b"\r\n", start)].decode()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.accepted.append((rcpt, message_id))
            n = len(self.accepted)
            if self.target and n >= self.target:
                self.reached.set()
        return f"250 2.0.0 Ok: queued as Q{n}"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler


def _fast_smtp_class() -> Any:
    """aiosmtpd's SMTP reading DATA up to the final dot in one go instead of line by line:
    the stock loop handles about 150 messages of 35 KB a second, too slow for the 5,000
    recipient crash test; this one keeps the same answers and un-stuffs dots the same way."""
    import asyncio

    from aiosmtpd.smtp import SMTP

    class FastSMTP(SMTP):
        async def smtp_DATA(self, arg: str) -> None:
            if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
                return
            assert self.envelope is not None
            if not self.envelope.rcpt_tos:
                await self.push("503 Error: need RCPT command")
                return
            if arg:
                await self.push("501 Syntax: DATA")
                return
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            chunks: list[bytes] = []
            while True:
                try:
                    chunks.append(await self._reader.readuntil(b"\r\n.\r\n"))
                    break
                except asyncio.LimitOverrunError as exc:
                    chunks.append(await self._reader.readexactly(exc.consumed))
            body = b"".join(chunks)[:-3].replace(b"\r\n..", b"\r\n.")
            if body.startswith(b".."):
                body = body[1:]
            self.envelope.content = self.envelope.original_content = body
            status = await self._call_handler_hook("DATA")
            await self.push(status)
            self._set_post_data_state()  # type: ignore[no-untyped-call]

    return FastSMTP


def _start_smtp(**kwargs: Any) -> tuple[Any, SmtpServer]:
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    port = free_port()
    fast = _fast_smtp_class()

    class FastController(Controller):
        def factory(self) -> Any:
            with warnings.catch_warnings():  # AUTH without TLS is fine on loopback
                warnings.simplefilter("ignore", UserWarning)
                return fast(self.handler, **self.SMTP_kwargs)

    controller = FastController(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, SmtpServer("127.0.0.1", port, handler)


def serve_smtp(*, pipelining: bool = True, **kwargs: Any) -> Iterator[SmtpServer]:
    controller, server = _start_smtp(**kwargs)
    server.handler.pipelining = pipelining
    yield server
    controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A relay offering PIPELINING and SMTPUTF8 (the modules that test the SMTP
    conversation itself run each test also against a relay without PIPELINING)."""
    yield from serve_smtp()


@pytest.fixture
def ascii_smtp_server() -> Iterator[SmtpServer]:
    """Like ``smtp_server`` (which offers SMTPUTF8, RFC 6531), without that extension."""
    controller, server = _start_smtp(enable_SMTPUTF8=False)
    yield server
    controller.stop()


SMTP_USER, SMTP_PASSWORD = "newsletter", "s3cret-password"


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    """Like ``smtp_server``, but AUTH is required (newsletter / s3cret-password)."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        return AuthResult(success=ok, handled=False)

    with warnings.catch_warnings():  # AUTH without TLS is fine on loopback
        warnings.simplefilter("ignore", UserWarning)
        controller, server = _start_smtp(
            authenticator=authenticator, auth_required=True, auth_require_tls=False
        )
    yield server
    controller.stop()


# ---- a SendGrid stand-in that validates every request ----------------------------------
SCHEMA = json.loads((DATA / "contracts" / "sendgrid-mail-send.schema.json").read_text())


# Prism validates ``format: email`` with ajv-formats' "fast" email pattern: ASCII only, so
# an IDN domain must arrive as punycode and a UTF-8 local part is refused.
_AJV_EMAIL = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$",
    re.IGNORECASE,
)
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(_AJV_EMAIL.match(value))


def sendgrid_violations(body: dict[str, Any]) -> list[str]:
    """Schema errors (formats included, as Prism checks them) plus the limits in the
    schema's $comment."""
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=FORMATS)
    problems = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]
    people = body.get("personalizations", [])
    recipients = sum(len(p.get(k, [])) for p in people for k in ("to", "cc", "bcc"))
    if recipients > 1000:
        problems.append(f"{recipients} recipients in one request (limit 1000)")
    for i, p in enumerate(people):
        subs = p.get("substitutions", {})
        size = sum(len(k.encode()) + len(str(v).encode()) for k, v in subs.items())
        if size > 10_000:
            problems.append(f"personalizations/{i}: substitutions take {size} bytes")
        args = {**body.get("custom_args", {}), **p.get("custom_args", {})}
        if len(json.dumps(args).encode()) > 10_000:
            problems.append(f"personalizations/{i}: custom_args over 10,000 bytes")
    if "reply_to" in body and "reply_to_list" in body:
        problems.append("reply_to and reply_to_list together")
    if len(json.dumps(body).encode()) >= 30_000_000:
        problems.append("message over 30 MB")
    return problems


class SendgridStandIn:
    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []  # (status, headers) per request
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []  # personalizations answered with 202
        self.violations: list[str] = []
        self.auth: list[str] = []
        self.lock = threading.Lock()
        self.url = ""
        # Addresses SendGrid refuses (400) as SendGrid does, naming the personalization in
        # ``field``; with ``name_field`` off the error only says "personalizations".
        self.refuse: set[str] = set()
        self.name_field = True
        self.lose_replies = 0  # the next N accepted requests get no reply (connection cut)
        # Set: a 202 is answered only once a request has been refused with 401 (a request
        # accepted while another, sent at the same time, finds the key revoked).
        self.hold_accepted: threading.Event | None = None

    def answer(
        self, body: dict[str, Any], auth: str, content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], bytes] | None:
        problems = sendgrid_violations(body)
        media, _, params = content_type.partition(";")
        if media.strip().lower() != "application/json":
            problems.append(f"Content-Type {content_type!r} is not application/json")
        elif params.strip() and params.strip().lower().replace(" ", "") != "charset=utf-8":
            problems.append(f"Content-Type {content_type!r}: the body is UTF-8")
        with self.lock:
            self.requests.append(body)
            self.auth.append(auth)
            if problems:
                self.violations.extend(problems)
                return 400, {}, json.dumps({"errors": [{"message": problems[0]}]}).encode()
            bad = [
                i
                for i, p in enumerate(body["personalizations"])
                if any(t["email"] in self.refuse for t in p.get("to", []))
            ]
            if bad:
                field = f"personalizations.{bad[0]}.to" if self.name_field else "personalizations"
                error = {"message": "Does not contain a valid address.", "field": field}
                return 400, {}, json.dumps({"errors": [error]}).encode()
            if self.lose_replies:
                self.lose_replies -= 1
                self.accepted.extend(body["personalizations"])
                return None
            status, headers = self.script.pop(0) if self.script else (202, {})
            if status == 202:
                self.accepted.extend(body["personalizations"])
                n = len(self.requests)
                return 202, {"X-Message-Id": f"sg-{n}", **headers}, b""
        message = {400: "The from address does not match a verified Sender Identity"}.get(
            status, "try again later"
        )
        return status, headers, json.dumps({"errors": [{"message": message}]}).encode()


@pytest.fixture
def sendgrid_api() -> Iterator[SendgridStandIn]:
    stand_in = SendgridStandIn()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            if self.path != "/v3/mail/send":
                headers: dict[str, str] = {}
                status, payload = 404, b"{}"
            else:
                answer = stand_in.answer(
                    body,
                    self.headers.get("Authorization", ""),
                    self.headers.get("Content-Type", ""),
                )
                if answer is None:  # accepted, and the reply is lost
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status, headers, payload = answer
            hold = stand_in.hold_accepted
            if hold is not None and status == 202:
                hold.wait(10)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if hold is not None and status == 401:
                self.wfile.flush()
                hold.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield stand_in
    server.shutdown()
    server.server_close()
