"""Many SMTP sessions driven from one thread: non-blocking sockets, one selector, and
command pipelining (RFC 2920) where the relay offers it.

With PIPELINING, ``MAIL FROM``, ``RCPT TO`` and ``DATA`` go out in one write and their
three replies come back together; after the 354 the dot-stuffed content and its final dot
go out with the next message's ``MAIL``/``RCPT``/``DATA`` behind them (RFC 2920 lets the
content open a group), so the relay answers the end of one message and the envelope of the
next together: one round trip a message instead of four, and no thread per connection
waiting on the GIL. A session thus carries one message, and the envelope of the following
one once the first's content is on the wire. A relay without
PIPELINING gets the same commands one at a time, each after the previous reply, as
smtplib would send them. Connections are opened (greeting, EHLO, STARTTLS, AUTH) with
smtplib by the caller and handed over here already past EHLO.

Every answer keeps its meaning (``pipeline.sending.transports.smtp``): a refusal of
``MAIL``/``DATA`` or of the recipient is that message's result; after a failed command the
session sends ``RSET`` and goes on; a 421 closes it. A session that times out or is cut
makes its message *transient* when the content had not all gone out, and *uncertain* when
it had (the relay may have queued it).
"""

from __future__ import annotations

import contextlib
import selectors
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.sending.transports.base import Result

# What the session waits for, in order: the replies to its pipelined commands.
MAIL, RCPT, DATA, END, RSET, DOT = "mail", "rcpt", "data", "end", "rset", "dot"


def reply_text(code: int, message: bytes | str) -> str:
    """``SMTP <code> <text>`` on one line (a multi-line reply joined by spaces)."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"SMTP {code} {' '.join(text.split())}".strip()


def classify(code: int, message: bytes | str, *, recipient: bool = False) -> Result:
    """transient for 4xx, failed for 5xx; ``recipient``: the answer was about the
    recipient (RCPT, DATA), so a 5xx is a refusal that may suppress the address."""
    if 400 <= code < 500 or code < 200:
        return Result("transient", error=reply_text(code, message))
    return Result("failed", error=reply_text(code, message), refused=recipient and code >= 500)


@dataclass
class Message:
    """What a session needs of one message: the envelope and, after the 354, its DATA:
    dot-stuffed and ended by the final dot (``MessageSkeleton.build_for_smtp``)."""

    envelope_from: str
    recipient: str
    data: Callable[[], bytes]
    smtputf8: bool


@dataclass(eq=False)
class Session:
    """One open SMTP connection, past EHLO (and STARTTLS, AUTH), in non-blocking mode.
    Sessions are told apart by identity (``session in live`` for every reply: comparing
    every field, as a dataclass's ``==`` does, cost more than reading the reply)."""

    conn: smtplib.SMTP
    pipelining: bool
    smtputf8: bool
    sock: socket.socket = field(init=False)
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)
    expect: list[str] = field(default_factory=list)  # replies awaited, in order
    queued: list[tuple[str, bytes]] = field(default_factory=list)  # lock-step: not yet sent
    index: int | None = None  # the message it carries (its place in the batch)
    message: Message | None = None
    following: tuple[int, Message] | None = None  # its envelope sent behind the content
    after_content: int = 0  # bytes queued behind the content's final dot (that envelope)
    result: Result | None = None  # a refusal, decided before the last reply came
    deadline: float = 0.0
    lines: list[bytes] = field(default_factory=list)  # of a multi-line reply

    def __post_init__(self) -> None:
        sock = self.conn.sock
        assert sock is not None
        self.sock = sock
        sock.setblocking(False)

    @property
    def busy(self) -> bool:
        return bool(self.expect) or self.index is not None

    @property
    def content_sent(self) -> bool:
        """The whole content and its final dot went out; its answer is awaited."""
        return (
            bool(self.expect) and self.expect[0] == END and len(self.outbox) <= self.after_content
        )

    def write(self) -> None:
        """Send what the socket takes now (OSError: the connection is gone)."""
        while self.outbox:
            try:
                sent = self.sock.send(self.outbox)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            if not sent:
                return
            del self.outbox[:sent]

    def read(self) -> list[tuple[int, bytes]] | None:
        """The complete replies received so far (code, text); None when the server closed
        the connection (OSError: it broke)."""
        while True:
            try:
                chunk = self.sock.recv(262144)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            if not chunk:
                return None
            self.inbox += chunk
            if not (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
                break
        replies: list[tuple[int, bytes]] = []
        while True:
            end = self.inbox.find(b"\r\n")
            if end < 0:
                return replies
            line = bytes(self.inbox[:end])
            del self.inbox[: end + 2]
            self.lines.append(line[4:].strip(b" \t"))
            if line[3:4] == b"-":
                continue
            try:
                code = int(line[:3])
            except ValueError:
                code = -1
            replies.append((code, b"\n".join(self.lines)))
            self.lines = []

    def command(self, kind: str, line: bytes) -> None:
        """Queue a command whose reply is ``kind``: written at once with PIPELINING (or
        when nothing is awaited), otherwise after the previous reply."""
        if self.pipelining or not self.expect:
            self.outbox += line
            self.expect.append(kind)
        else:
            self.queued.append((kind, line))

    def close(self, *, quit_first: bool = False) -> None:
        """Close the connection (``quit_first``: politely, with QUIT, when idle)."""
        if quit_first and not self.busy and not self.outbox:
            with contextlib.suppress(OSError, smtplib.SMTPException, ValueError):
                self.sock.settimeout(min(5.0, self.conn.timeout or 5.0))
                self.conn.quit()
                return
        with contextlib.suppress(OSError):
            self.conn.close()


class Conversation:
    """Drive ``sessions`` until every message handed out has its result.

    ``next_message()`` gives (index, Message), or None when nothing more is to be sent;
    ``report(index, result)`` is called once per message as its answer arrives (an
    exception from it ends the conversation: the messages on the wire get no result);
    ``reopen()`` gives a new session in place of one that closed, or None when none can
    be opened (the caller then reports the messages never handed out). ``where`` names
    the relay in errors."""

    def __init__(
        self,
        sessions: list[Session],
        *,
        timeout: float,
        where: str,
        next_message: Callable[[], tuple[int, Message] | None],
        report: Callable[[int, Result], None],
        reopen: Callable[[], Session | None],
    ) -> None:
        self.timeout = timeout
        self.where = where
        self.next_message = next_message
        self.report = report
        self.reopen = reopen
        self.selector = selectors.DefaultSelector()
        self.live: list[Session] = []
        self.exhausted = False  # next_message() has nothing more
        # Messages whose envelope followed a content on a connection that then closed:
        # never processed, so another session carries them (with the reason, should none).
        self.requeued: list[tuple[int, Message, str]] = []
        for session in sessions:
            self._adopt(session)

    def run(self) -> list[Session]:
        """Send until nothing is left; returns the sessions still open (idle)."""
        try:
            for session in list(self.live):
                self._start(session)
            while any(s.busy for s in self.live):
                self._turn()
            for index, _, why in self.requeued:  # no connection was left to carry them
                self.report(index, Result("transient", error=why))
            self.requeued.clear()
        except BaseException:
            for session in [s for s in self.live if s.busy]:
                self._discard(session)
            raise
        finally:
            for session in self.live:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(session.sock)
            self.selector.close()
        return list(self.live)

    def _turn(self) -> None:
        now = time.monotonic()
        soonest = min((s.deadline for s in self.live if s.busy), default=now)
        for key, mask in self.selector.select(max(0.0, soonest - now)):
            session: Session = key.data
            if session not in self.live:
                continue
            try:
                if mask & selectors.EVENT_WRITE:
                    self._flush(session)
                if mask & selectors.EVENT_READ:
                    replies = session.read()
                    if replies is None:
                        self._broken(session, "the SMTP server closed the connection")
                        continue
                    if replies:
                        session.deadline = time.monotonic() + self.timeout
                    for code, text in replies:
                        if session not in self.live:
                            break
                        self._answer(session, code, text)
            except OSError as exc:
                self._broken(session, str(exc) or type(exc).__name__)
        now = time.monotonic()
        for session in [s for s in self.live if s.busy and s.deadline <= now]:
            self._broken(session, "timed out")

    # ---- sessions -----------------------------------------------------------------------
    def _adopt(self, session: Session) -> None:
        self.live.append(session)
        self.selector.register(session.sock, selectors.EVENT_READ, session)

    def _discard(self, session: Session) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(session.sock)
        if session in self.live:
            self.live.remove(session)
        session.close()

    def _flush(self, session: Session) -> None:
        try:
            session.write()
        except OSError as exc:  # the relay closed or reset it (an idle one, say)
            self._broken(session, str(exc) or type(exc).__name__)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if session.outbox else 0)
        self.selector.modify(session.sock, events, session)
        session.deadline = time.monotonic() + self.timeout

    def _start(self, session: Session) -> None:
        """Give an idle ``session`` the next message (or leave it idle)."""
        item = self._take(session)
        if item is not None:
            session.index, session.message, session.result = item[0], item[1], None
            self._envelope(session, item[1])
            self._flush(session)

    def _take(self, session: Session) -> tuple[int, Message] | None:
        """The next message ``session`` can carry (one it cannot fails here), or None."""
        if self.requeued:
            index, message, _ = self.requeued.pop(0)
            return index, message
        while not self.exhausted:
            item = self.next_message()
            if item is None:
                self.exhausted = True
                return None
            index, message = item
            if message.smtputf8 and not session.smtputf8:
                self.report(
                    index,
                    Result(
                        "failed",
                        error=f"the address {message.recipient!r} has non-ASCII characters "
                        f"before the @ and the SMTP server {self.where} does not offer "
                        "SMTPUTF8; use a relay that offers it, or ask the subscriber for "
                        "an ASCII address",
                    ),
                )
                continue
            return item
        return None

    @staticmethod
    def _envelope(session: Session, message: Message) -> None:
        option = b" SMTPUTF8" if message.smtputf8 else b""
        sender = message.envelope_from.encode()
        session.command(MAIL, b"MAIL FROM:<%s>%s\r\n" % (sender, option))
        session.command(RCPT, b"RCPT TO:<%s>\r\n" % message.recipient.encode())
        session.command(DATA, b"DATA\r\n")

    def _answer(self, session: Session, code: int, text: bytes) -> None:
        if not session.expect:  # a reply nobody asked for: the session is out of step
            self._broken(session, f"unexpected reply {reply_text(code, text)}")
            return
        kind = session.expect.pop(0)
        if kind in (MAIL, RCPT):
            if code == 421:
                self._finish(session, classify(code, text), close=True)
            elif code == 250 or (kind == RCPT and code == 251):
                self._next_queued(session)
            elif session.result is None:
                session.result = classify(code, text, recipient=kind == RCPT)
                if not session.pipelining:  # DATA is never sent
                    session.queued.clear()
                    self._finish(session, session.result)
        elif kind == DATA:
            if code == 354 and session.result is None:
                self._content(session)
            elif code == 354:  # DATA taken after a refused MAIL or RCPT: end it empty
                session.outbox += b".\r\n"
                session.expect.append(DOT)
                self._flush(session)
            else:
                self._finish(session, session.result or classify(code, text), close=code == 421)
        elif kind == END:
            if code == 250:
                self._finish(session, Result("sent", provider_id=reply_text(code, text)[:300]))
            else:
                self._finish(session, classify(code, text, recipient=True), close=code == 421)
        elif kind == DOT:
            assert session.result is not None
            self._finish(session, session.result)
        elif kind == RSET:
            if code != 250:
                self._discard(session)
                self._replace()
            elif not session.expect:
                self._start(session)

    def _content(self, session: Session) -> None:
        assert session.message is not None
        try:
            body = session.message.data()
        except Exception as exc:  # a bug or an unforeseen input: this message only
            error = f"the SMTP transport failed: {type(exc).__name__}: {exc}"
            self._finish(session, Result("failed", error=error), close=True)
            return
        session.outbox += body
        session.expect.append(END)
        if session.pipelining:  # the next envelope rides behind the final dot
            following = self._take(session)
            if following is not None:
                before = len(session.outbox)
                self._envelope(session, following[1])
                session.following, session.after_content = following, len(session.outbox) - before
        self._flush(session)

    def _next_queued(self, session: Session) -> None:
        if session.queued and not session.expect:
            kind, line = session.queued.pop(0)
            session.outbox += line
            session.expect.append(kind)
            self._flush(session)

    def _finish(self, session: Session, result: Result, *, close: bool = False) -> None:
        """The message has its answer: report it; then the next message (its envelope may
        be on the wire already), after an RSET when the transaction failed, or a new
        connection when this one closes. Replies still due to pipelined commands are read
        before the RSET's."""
        index, session.index, session.message, session.result = session.index, None, None, None
        session.after_content = 0
        if index is not None:
            self.report(index, result)
        if close:
            why = f" ({result.error})" if result.error else ""
            self._drop_following(session, f"the SMTP server closed the connection{why}")
            self._discard(session)
            self._replace()
        elif session.following is not None:  # an end of data ends the transaction: no RSET
            (session.index, session.message), session.following = session.following, None
        elif result.outcome != "sent":
            session.queued.clear()
            session.outbox += b"RSET\r\n"
            session.expect.append(RSET)
            self._flush(session)
        elif not session.expect:
            self._start(session)

    def _broken(self, session: Session, why: str) -> None:
        """The connection timed out or broke: its message is transient, or uncertain when
        the whole content had gone out; then a new connection takes its place."""
        if session.index is not None:
            if session.content_sent:
                result = Result(
                    "uncertain",
                    error=f"no answer from the SMTP server after the message was sent "
                    f"({why}); it may have been delivered",
                )
            else:
                result = session.result or Result("transient", error=f"connection dropped: {why}")
            self.report(session.index, result)
            session.index = session.message = None
        self._drop_following(session, f"connection dropped: {why}")
        self._discard(session)
        self._replace()

    def _drop_following(self, session: Session, why: str) -> None:
        """The message whose envelope followed the content never got its turn (its
        transaction had not begun): another session carries it."""
        if session.following is not None:
            index, message = session.following
            session.following = None
            self.requeued.append((index, message, f"not sent: {why}"))

    def _replace(self) -> None:
        """Open a session in place of one that closed, while there is work left."""
        if self.exhausted and not self.requeued:
            return
        session = self.reopen()
        if session is None:
            self.exhausted = True  # the caller reports the messages never handed out
            return
        self._adopt(session)
        self._start(session)
