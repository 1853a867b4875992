"""SMTP: a pool of N persistent connections, one thread each (stdlib smtplib).

Measured here into postfix's smtp-sink with pre-built 26 KB messages: smtplib in 8 threads
made 2,900-3,800 msg/s, aiosmtplib with 8 sessions about 1,900 msg/s (DESIGN.md), so the
pool is threads. smtplib releases the GIL while it waits on the socket.

Each message is one MAIL/RCPT/DATA transaction, so each recipient gets its own answer: the
RCPT reply (550: failed; 4xx: transient) or the DATA reply (250 + the server's queue id,
kept as the provider id). A dropped connection makes that message transient and the
connection is opened again for the next one; but when the message has gone out and its
DATA answer never comes (a timeout, a connection cut after the final dot) the result is
*uncertain*: the relay may have queued it, so it is not resent by itself.

Stalls are bounded: ``timeout`` applies to the connect, the greeting and every command.
Once a connection cannot be opened, the rest of the batch is reported transient at once
instead of each message waiting out its own timeout (a relay that never greets costs one
timeout per batch, not one per message).

International addresses (see ``pipeline.sending.addresses``): a UTF-8 local part is sent
with ``MAIL FROM:<...> SMTPUTF8`` when the relay offers the extension, and fails alone
with a reason when it does not. An unexpected exception while sending one message fails
that message (with the exception in its error) instead of the whole batch.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import smtplib
import ssl
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from pipeline.config import Settings
from pipeline.errors import TransportError
from pipeline.sending.addresses import needs_smtputf8
from pipeline.sending.transports.base import OnResults, Outgoing, Result, Transport


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"SMTP {code} {' '.join(text.split())}".strip()


def _classify(code: int, message: bytes | str, *, recipient: bool = False) -> Result:
    """transient for 4xx, failed for 5xx; ``recipient``: the answer was about the
    recipient (RCPT, DATA), so a 5xx is a refusal that may suppress the address."""
    if 400 <= code < 500 or code < 200:
        return Result("transient", error=_reply(code, message))
    return Result("failed", error=_reply(code, message), refused=recipient and code >= 500)


class _NoAnswer(Exception):
    """The message went out (up to the final dot) but the relay's answer never came."""


def _data(conn: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """DATA with the message already in CRLF form: dot-stuffing is one bytes.replace
    (smtplib's regex over every message costs more than the rest of the transaction).
    Raises ``_NoAnswer`` when the final dot was sent and no reply came."""
    conn.putcmd("data")
    code, reply = conn.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    conn.send(stuffed + b".\r\n")
    try:
        return conn.getreply()
    except OSError as exc:  # smtplib.SMTPServerDisconnected and socket timeouts
        raise _NoAnswer(str(exc) or type(exc).__name__) from exc


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
        self._idle: queue.LifoQueue[smtplib.SMTP] = queue.LifoQueue()
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._unreachable: str | None = None  # why the relay could not be reached

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
    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if self.security == "ssl":
            conn = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        else:
            conn = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
            if self.security == "starttls":
                conn.ehlo()
                conn.starttls(context=context)
        conn.ehlo()
        if self.username:
            try:
                self._login(conn)
            except smtplib.SMTPAuthenticationError as exc:
                conn.close()
                raise TransportError(
                    f"the SMTP server refused the login for {self.username!r}: "
                    f"{_reply(exc.smtp_code, exc.smtp_error)}",
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

    def _checkout(self) -> smtplib.SMTP:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._connect()

    @staticmethod
    def _drop(conn: smtplib.SMTP) -> None:
        with contextlib.suppress(OSError):
            conn.close()

    # ---- sending -----------------------------------------------------------------------
    def _send_one(self, message: Outgoing) -> Result:
        if self._unreachable is not None:
            return Result("transient", error=self._unreachable)
        try:
            conn = self._checkout()
        except ssl.SSLCertVerificationError as exc:
            # Not a passing fault: every retry would fail the same way, so stop the send.
            raise TransportError(
                f"the SMTP server {self.host}:{self.port} presented a certificate that cannot "
                f"be trusted: {exc.verify_message}",
                fix="make [smtp] host the name in the server's certificate, or trust a "
                "private CA by setting SSL_CERT_FILE to its PEM file",
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            why = f"cannot connect to {self.host}:{self.port}: {exc or type(exc).__name__}"
            self._unreachable = why
            return Result("transient", error=why)
        options: list[str] = []
        if needs_smtputf8(message.email):
            if not conn.has_extn("smtputf8"):
                self._idle.put(conn)
                return Result(
                    "failed",
                    error=f"the address {message.email!r} has non-ASCII characters before "
                    f"the @ and the SMTP server {self.host}:{self.port} does not offer "
                    "SMTPUTF8; use a relay that offers it, or ask the subscriber for an "
                    "ASCII address",
                )
            options = ["SMTPUTF8"]
        try:
            code, reply = conn.mail(message.envelope_from or self.envelope_from, options)
            if code != 250:
                result = _classify(code, reply)
            else:
                code, reply = conn.rcpt(message.email)
                if code not in (250, 251):
                    result = _classify(code, reply, recipient=True)
                else:
                    code, reply = _data(conn, message.data)
                    result = (
                        Result("sent", provider_id=_reply(code, reply)[:300])
                        if code == 250
                        else _classify(code, reply, recipient=True)
                    )
            if result.outcome != "sent":
                if code == 421:
                    self._drop(conn)
                    return result
                conn.rset()
        except _NoAnswer as exc:
            self._drop(conn)
            return Result(
                "uncertain",
                error=f"no answer from the SMTP server after the message was sent ({exc}); "
                "it may have been delivered",
            )
        except smtplib.SMTPResponseException as exc:
            self._drop(conn)
            return _classify(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            self._drop(conn)
            return Result("transient", error=f"connection dropped: {exc or type(exc).__name__}")
        except Exception as exc:  # a bug or an unforeseen input: this message only
            self._drop(conn)
            return Result("failed", error=f"the SMTP transport failed: {type(exc).__name__}: {exc}")
        self._idle.put(conn)
        return result

    def send_batch(
        self, messages: Sequence[Outgoing], on_results: OnResults | None = None
    ) -> list[Result]:
        results: list[Result | None] = [None] * len(messages)
        counter = itertools.count()
        stop = threading.Event()
        self._unreachable = None

        def work() -> None:
            try:
                while not stop.is_set():
                    i = next(counter)
                    if i >= len(messages):
                        return
                    result = results[i] = self._send_one(messages[i])
                    if on_results is not None:
                        on_results([(i, result)])
            except BaseException:
                stop.set()  # the other connections stop after their current message
                raise

        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="smtp")
        workers = min(self.concurrency, len(messages))
        futures = [self._pool.submit(work) for _ in range(workers)]
        wait(futures)  # every connection is done before an error is raised
        for future in futures:
            future.result()  # re-raises TransportError (e.g. a refused login)
        return [r if r is not None else Result("transient", error="not sent") for r in results]

    def close(self) -> None:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                self._drop(conn)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
