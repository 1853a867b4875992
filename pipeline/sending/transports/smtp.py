"""SMTP: persistent connections to a relay, driven from one thread with pipelining.

Connections are opened with smtplib (greeting, EHLO, STARTTLS, AUTH), several at once,
and then handed to ``pipeline.sending.transports.smtp_sessions``: non-blocking sockets
under one selector, ``MAIL``/``RCPT``/``DATA`` written together where the relay offers
PIPELINING (RFC 2920) and behind the previous message's final dot, the content
dot-stuffed when it is built. Measured into postfix's smtp-sink with 60 KB messages and 8
connections (bench/results.md): the thread-per-connection smtplib pool it replaces reached
0.3 of ``smtp-source -d``; each message now costs one write and one read, and no thread
waits on the GIL.

Each message is one MAIL/RCPT/DATA transaction, so each recipient gets its own answer: the
RCPT reply (550: failed; 4xx: transient) or the DATA reply (250 + the server's queue id,
kept as the provider id). A dropped connection makes that message transient and a new
connection is opened for the next one; but when the message has gone out and its DATA
answer never comes (a timeout, a connection cut after the final dot) the result is
*uncertain*: the relay may have queued it, so it is not resent by itself.

Stalls are bounded: ``timeout`` applies to the connect, the greeting and every command.
Once a connection cannot be opened, the rest of the batch is reported transient at once
instead of each message waiting out its own timeout (a relay that never greets costs one
timeout per batch, not one per message).

International addresses (see ``pipeline.sending.addresses``): a UTF-8 local part is sent
with ``MAIL FROM:<...> SMTPUTF8`` when the relay offers the extension, and fails alone
with a reason when it does not. An unexpected exception while building one message fails
that message (with the exception in its error) instead of the whole batch.
"""

from __future__ import annotations

import contextlib
import itertools
import smtplib
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipeline.config import Settings
from pipeline.errors import TransportError
from pipeline.sending.addresses import needs_smtputf8
from pipeline.sending.transports.base import OnResults, Outgoing, Result, Transport
from pipeline.sending.transports.smtp_sessions import Conversation, Message, Session, reply_text


def _builder(message: Outgoing) -> Callable[[], bytes]:
    """The message's DATA bytes, built when the relay is ready for them (after the 354)."""
    return lambda: message.smtp_data


class SmtpTransport(Transport):
    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str = "none",
        username: str = "",
        password: str = "",
        connections: int = 8,
        timeout: float = 30.0,
        local_hostname: str = "",
        envelope_from: str,
        batch_size: int = 500,
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.concurrency = connections
        self.timeout = timeout
        self.local_hostname = local_hostname or None
        self.envelope_from = envelope_from
        self.batch_size = batch_size
        self._idle: list[Session] = []  # open connections between batches
        self._lock = threading.Lock()
        self._unreachable: str | None = None  # why the relay could not be reached
        self._fatal: TransportError | None = None  # raised once the batch is answered
        self._ssl_context: ssl.SSLContext | None = None
        self._context_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpTransport:
        cfg = settings.smtp
        if cfg.username and not settings.secrets.smtp_password:
            raise TransportError(
                f"[smtp] username is {cfg.username!r} but there is no password",
                fix="set NEWSLETTER_SMTP_PASSWORD in the environment",
            )
        return cls(
            host=cfg.host,
            port=cfg.port,
            security=cfg.security,
            username=cfg.username,
            password=settings.secrets.smtp_password,
            connections=cfg.connections,
            timeout=cfg.timeout,
            local_hostname=cfg.local_hostname,
            envelope_from=settings.sender.email,
            batch_size=settings.sending.batch_size,
        )

    def describe(self) -> str:
        return f"smtp {self.host}:{self.port} ({self.concurrency} connections)"

    # ---- connections -------------------------------------------------------------------
    def _context(self) -> ssl.SSLContext:
        """One TLS context for every connection (loading the CA certificates costs
        tens of milliseconds)."""
        with self._context_lock:
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context()
            return self._ssl_context

    def _connect(self) -> smtplib.SMTP:
        conn: smtplib.SMTP
        if self.security == "ssl":
            conn = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            conn = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
            if self.security == "starttls":
                conn.ehlo()
                conn.starttls(context=self._context())
        conn.ehlo()
        if self.username:
            try:
                self._login(conn)
            except smtplib.SMTPAuthenticationError as exc:
                conn.close()
                raise TransportError(
                    f"the SMTP server refused the login for {self.username!r}: "
                    f"{reply_text(exc.smtp_code, exc.smtp_error)}",
                    fix="check [smtp] username and NEWSLETTER_SMTP_PASSWORD",
                ) from None
        return conn

    def _login(self, conn: smtplib.SMTP) -> None:
        """AUTH with the best method the server offers, once (smtplib's ``login`` tries
        every method in turn, and some servers hang up on the second try)."""
        offered = conn.esmtp_features.get("auth", "").upper().split()
        methods: dict[str, Any] = {
            "CRAM-MD5": conn.auth_cram_md5,
            "PLAIN": conn.auth_plain,
            "LOGIN": conn.auth_login,
        }
        chosen = next((m for m in methods if m in offered), None)
        if chosen is None:
            conn.close()
            raise TransportError(
                f"the SMTP server {self.host}:{self.port} offers no AUTH method we support "
                f"({' '.join(offered) or 'none'})",
                fix='use security = "starttls" (servers often offer AUTH only after it), '
                "or leave [smtp] username empty",
            )
        conn.user, conn.password = self.username, self.password
        conn.auth(chosen, methods[chosen], initial_response_ok=True)

    def _open(self) -> Session:
        """A new session, past EHLO (and STARTTLS, AUTH)."""
        conn = self._connect()
        try:
            return Session(
                conn, pipelining=conn.has_extn("pipelining"), smtputf8=conn.has_extn("smtputf8")
            )
        except OSError:
            self._drop(conn)
            raise

    def _try_open(self) -> Session | None:
        """A new session, or None when the relay cannot be reached (the reason is kept
        for the messages not sent); a TransportError is kept to be raised once the
        messages on the wire have their answers."""
        if self._unreachable is not None or self._fatal is not None:
            return None
        try:
            return self._open()
        except TransportError as exc:
            self._fatal = exc
        except ssl.SSLCertVerificationError as exc:
            # Not a passing fault: every retry would fail the same way, so stop the send.
            self._fatal = TransportError(
                f"the SMTP server {self.host}:{self.port} presented a certificate that cannot "
                f"be trusted: {exc.verify_message}",
                fix="make [smtp] host the name in the server's certificate, or trust a "
                "private CA by setting SSL_CERT_FILE to its PEM file",
            )
        except (OSError, smtplib.SMTPException) as exc:
            self._unreachable = (
                f"cannot connect to {self.host}:{self.port}: {exc or type(exc).__name__}"
            )
        return None

    def _sessions(self, wanted: int) -> list[Session]:
        """``wanted`` sessions: the idle ones, and new ones opened side by side (a relay
        that never greets costs one timeout, not one per connection)."""
        sessions = self._idle[:wanted]
        del self._idle[:wanted]
        missing = wanted - len(sessions)
        if missing == 1:
            opened = self._try_open()
            sessions += [opened] if opened else []
        elif missing > 1:
            with ThreadPoolExecutor(missing, thread_name_prefix="smtp-connect") as pool:
                found = list(pool.map(lambda _: self._try_open(), range(missing)))
            sessions += [s for s in found if s is not None]
        return sessions

    @staticmethod
    def _drop(conn: smtplib.SMTP) -> None:
        with contextlib.suppress(OSError):
            conn.close()

    # ---- sending -----------------------------------------------------------------------
    def send_batch(
        self, messages: Sequence[Outgoing], on_results: OnResults | None = None
    ) -> list[Result]:
        results: list[Result | None] = [None] * len(messages)

        def keep(answers: list[tuple[int, Result]]) -> None:
            for i, result in answers:
                results[i] = result
            if on_results is not None:
                on_results(answers)

        self.send_stream(iter([messages]), keep)
        return [r or Result("transient", error="not sent") for r in results]

    def send_stream(self, parts: Iterator[Sequence[Outgoing]], on_results: OnResults) -> None:
        """Every connection takes the next message as soon as it is free, across the
        parts: no connection waits for the others at the end of a hand-off."""
        self._unreachable = None
        self._fatal = None
        first = next(parts, None)
        if first is None:
            return
        parts = itertools.chain([first], parts)
        part: Sequence[Outgoing] = ()
        position = count = 0

        def next_message() -> tuple[int, Message] | None:
            nonlocal part, position, count
            while position >= len(part):
                following = next(parts, None)
                if following is None:
                    return None
                part, position = following, 0
            outgoing = part[position]
            position += 1
            count += 1
            return count - 1, Message(
                envelope_from=outgoing.envelope_from or self.envelope_from,
                recipient=outgoing.email,
                data=_builder(outgoing),
                smtputf8=needs_smtputf8(outgoing.email),
            )

        def report(i: int, result: Result) -> None:
            on_results([(i, result)])

        with self._lock:
            sessions = self._sessions(min(self.concurrency, len(first)))
            if self._fatal is not None and not sessions:
                raise self._fatal
            conversation = Conversation(
                sessions,
                timeout=self.timeout,
                where=f"{self.host}:{self.port}",
                next_message=next_message,
                report=report,
                reopen=self._try_open,
            )
            try:
                self._idle = conversation.run()
            except BaseException:
                self._idle = list(conversation.live)  # the idle ones; the rest were closed
                raise
        if self._fatal is not None:
            raise self._fatal  # after the messages on the wire had their answers
        # The relay could not be reached: the messages not handed out are transient.
        why = self._unreachable or "not sent"
        while (item := next_message()) is not None:
            on_results([(item[0], Result("transient", error=why))])

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for session in idle:
            session.close(quit_first=True)
