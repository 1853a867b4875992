"""The SMTP conversation itself (pipeline.sending.transports.smtp_sessions), against relays
on loopback that are strict about pipelining: one answers only once MAIL, RCPT and DATA
have all arrived (so a client that waits after each command would hang), the other
refuses a command that arrives before the answer to the previous one (as postfix does
with "improper command pipelining")."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from pipeline.clock import FixedClock
from pipeline.sending.transports.base import Outgoing, Result
from pipeline.sending.transports.smtp import SmtpTransport
from tests.sending.conftest import sample_compiled


@dataclass
class Relay:
    """A tiny SMTP server. ``pipelining``: offer it, and answer MAIL only once RCPT and
    DATA have arrived too; otherwise answer each command at once and note any command
    that came before the previous answer (``early``). ``mail``/``rcpt``/``data`` map an
    address or the number of a content received to the answer to give instead of the usual one."""

    pipelining: bool
    port: int = 0
    mail: dict[str, str] = field(default_factory=dict)
    rcpt: dict[str, str] = field(default_factory=dict)
    data: dict[int, str] = field(default_factory=dict)
    delivered: list[tuple[str, bytes]] = field(default_factory=list)
    received: int = 0  # message contents received
    close_after: int = 0  # close a connection (without a word) at its next MAIL after this many
    commands: list[str] = field(default_factory=list)
    early: list[str] = field(default_factory=list)
    behind: int = 0  # contents whose final dot had the next command right behind it
    last_421: bool = False  # after its first 421, hang up on every new connection
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        conn.sendall(b"220 relay ESMTP\r\n")
        sender = recipient = ""
        refused = False
        taken = 0  # messages this connection delivered
        while True:
            line = reader.readline()
            if not line:
                return
            command = line.decode().strip()
            with self.lock:
                self.commands.append(command.split(":")[0].split(" ")[0].upper())
            verb = command[:4].upper()
            if not self.pipelining and verb != "QUIT" and _more_waiting(conn, reader):
                self.early.append(command)
            if verb == "EHLO":
                extensions = "250-PIPELINING\r\n" if self.pipelining else ""
                conn.sendall(f"250-relay\r\n{extensions}250 8BITMIME\r\n".encode())
            elif verb == "MAIL" and self.close_after and taken >= self.close_after:
                conn.close()
                return
            elif verb == "MAIL":
                taken += 1
                sender = command.split("<", 1)[1].split(">", 1)[0]
                answers = [self.mail.get(sender, "250 2.1.0 Ok")]
                refused = not answers[0].startswith("250")
                if self.pipelining:  # answer only with RCPT and DATA in hand
                    for expected in ("RCPT", "DATA"):
                        follow = reader.readline().decode().strip()
                        assert follow.upper().startswith(expected), follow
                        with self.lock:
                            self.commands.append(expected)
                        if expected == "RCPT":
                            recipient = follow.split("<", 1)[1].split(">", 1)[0]
                            answer = self.rcpt.get(recipient, "250 2.1.5 Ok")
                            refused = refused or not answer.startswith("250")
                        else:
                            answer = "503 5.5.1 No valid recipients" if refused else "354 Go"
                        answers.append(answer)
                conn.sendall("".join(a + "\r\n" for a in answers).encode())
                if self.pipelining and not refused and not self._content(reader, conn, recipient):
                    return
            elif verb == "RCPT":
                recipient = command.split("<", 1)[1].split(">", 1)[0]
                answer = self.rcpt.get(recipient, "250 2.1.5 Ok")
                refused = not answer.startswith("250")
                conn.sendall(f"{answer}\r\n".encode())
            elif verb == "DATA":
                conn.sendall(b"354 Go\r\n")
                if not self._content(reader, conn, recipient):
                    return
            elif verb == "RSET":
                conn.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 Bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.2 Error\r\n")

    def _content(self, reader: io.BufferedReader, conn: socket.socket, recipient: str) -> bool:
        """Read one content and answer it; False when the answer (a 421) closed the
        connection."""
        lines = []
        while True:
            line = reader.readline()
            if line in (b".\r\n", b""):
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
        with self.lock:
            self.received += 1
            number = self.received
            answer = self.data.get(number, f"250 2.0.0 Ok: queued as Q{number}")
            if answer.startswith("250"):
                self.delivered.append((recipient, b"".join(lines)))
            self.behind += _more_waiting(conn, reader)
            if answer.startswith("421"):
                self.closed = self.last_421  # before the client can connect again
        conn.sendall(f"{answer}\r\n".encode())
        if answer.startswith("421"):
            conn.close()
            return False
        return True


def _more_waiting(conn: socket.socket, reader: io.BufferedReader) -> bool:
    """Bytes from the client already here, before our answer (without waiting)."""
    conn.settimeout(0.0)
    try:
        return bool(reader.peek(1))
    except OSError:  # BlockingIOError: nothing yet
        return False
    finally:
        conn.settimeout(None)


@pytest.fixture(params=[True, False], ids=["pipelining", "lock-step"])
def relay(request: pytest.FixtureRequest) -> Iterator[Relay]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    relay = Relay(pipelining=request.param, port=server.getsockname()[1])
    threads: list[threading.Thread] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            if relay.closed:
                conn.close()
                continue
            thread = threading.Thread(target=relay.serve, args=(conn,), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield relay
    server.close()


def _transport(relay: Relay, connections: int = 3) -> SmtpTransport:
    return SmtpTransport(
        host="127.0.0.1",
        port=relay.port,
        connections=connections,
        timeout=5.0,
        envelope_from="hello@glownotes.example.com",
    )


def _send_over_one_session(relay: Relay, messages: list[Outgoing]) -> list[Result]:
    """Send ``messages`` as one batch over one connection (each in turn), then close it."""
    transport = _transport(relay, connections=1)
    try:
        return transport.send_batch(messages)
    finally:
        transport.close()


def _messages(settings_skeleton: object, count: int) -> list[Outgoing]:
    from pipeline.sending.mime import MessageSkeleton

    assert isinstance(settings_skeleton, MessageSkeleton)
    return [
        Outgoing(
            settings_skeleton,
            f"reader{i}@example.org",
            f"Reader {i}",
            {"first_name": f"Reader {i}", "unsubscribe_url": f"https://x.example/u/{i}"},
            settings_skeleton.new_message_id(),
        )
        for i in range(count)
    ]


@pytest.fixture
def skeleton(settings: object) -> object:
    from pipeline.config import Settings
    from pipeline.sending.mime import MessageSkeleton

    assert isinstance(settings, Settings)
    # A fixed clock: the Date header is the same when the test builds a message again.
    return MessageSkeleton(settings, sample_compiled(), slug="2026-12-01-test", clock=FixedClock())


def test_every_message_is_delivered_intact_over_either_conversation(
    relay: Relay, skeleton: object
) -> None:
    messages = _messages(skeleton, 25)
    transport = _transport(relay)
    try:
        results = transport.send_batch(messages)
    finally:
        transport.close()
    assert [r.outcome for r in results] == ["sent"] * 25
    assert sorted(r for r, _ in relay.delivered) == sorted(m.email for m in messages)
    by_recipient = dict(relay.delivered)
    for message in messages:  # un-stuffed by the relay, the bytes are the message's own
        assert by_recipient[message.email] == message.data
    assert relay.early == []  # lock-step: never a command before the previous answer
    assert relay.commands.count("MAIL") == 25


def test_a_refused_sender_or_recipient_fails_alone_and_the_session_goes_on(
    relay: Relay, skeleton: object
) -> None:
    relay.rcpt["reader1@example.org"] = "550 5.1.1 <reader1@example.org>: unknown user"
    relay.rcpt["reader2@example.org"] = "452 4.2.2 Mailbox full"
    relay.data[2] = "554 5.7.1 Message refused as spam"  # the second content received
    relay.mail["blocked@glownotes.example.com"] = "553 5.7.1 Sender address rejected"
    messages = _messages(skeleton, 7)
    messages[5].envelope_from = "blocked@glownotes.example.com"  # a VERP Return-Path
    results = _send_over_one_session(relay, messages)
    assert results[0].outcome == "sent"
    assert results[1] == Result(
        "failed", error="SMTP 550 5.1.1 <reader1@example.org>: unknown user", refused=True
    )
    assert results[2] == Result("transient", error="SMTP 452 4.2.2 Mailbox full")
    assert results[3] == Result(
        "failed", error="SMTP 554 5.7.1 Message refused as spam", refused=True
    )
    assert results[4].outcome == "sent"
    assert results[5] == Result("failed", error="SMTP 553 5.7.1 Sender address rejected")
    assert results[6].outcome == "sent"
    # An RSET after each failed transaction; but a refused end of data ends its own, and
    # with PIPELINING the next envelope is already behind it.
    assert relay.commands.count("RSET") == (3 if relay.pipelining else 4)
    assert relay.commands.count("DATA") == (7 if relay.pipelining else 4)
    assert relay.early == []


def test_answers_are_reported_as_they_come_with_their_place_in_the_stream(
    relay: Relay, skeleton: object
) -> None:
    messages = _messages(skeleton, 12)
    seen: list[tuple[int, str]] = []
    transport = _transport(relay)
    try:
        transport.send_stream(
            iter([messages[:5], messages[5:9], messages[9:]]),
            lambda answers: seen.extend((i, r.outcome) for i, r in answers),
        )
    finally:
        transport.close()
    assert sorted(seen) == [(i, "sent") for i in range(12)]
    assert sorted(r for r, _ in relay.delivered) == sorted(m.email for m in messages)


def test_a_connection_the_relay_closes_costs_one_transient_message_and_is_replaced(
    relay: Relay, skeleton: object
) -> None:
    """The relay hangs up at the MAIL after two messages (an idle timeout, a limit per
    connection): that message is transient (nothing went out), a new connection carries
    the rest; a pooled connection closed between two batches is handled the same way."""
    relay.close_after = 2
    messages = _messages(skeleton, 5)
    transport = _transport(relay, connections=1)
    try:
        first = transport.send_batch(messages)
        second = transport.send_batch(_messages(skeleton, 2))  # its pooled one is closed
    finally:
        transport.close()
    assert [r.outcome for r in first] == ["sent", "sent", "transient", "sent", "sent"]
    assert first[2].error is not None and first[2].error.startswith("connection dropped: ")
    assert [r.outcome for r in second] == ["transient", "sent"]
    assert len(relay.delivered) == 5


def test_with_pipelining_the_next_envelope_rides_behind_the_final_dot(
    relay: Relay, skeleton: object
) -> None:
    """One round trip a message: the content, its final dot and the next message's
    MAIL/RCPT/DATA go out together (RFC 2920 lets the content open a group)."""
    messages = _messages(skeleton, 6)
    results = _send_over_one_session(relay, messages)
    assert [r.outcome for r in results] == ["sent"] * 6
    assert [r for r, _ in relay.delivered] == [m.email for m in messages]
    # Behind each content but the last: the next MAIL (lock-step: nothing, it waits).
    assert relay.behind == (5 if relay.pipelining else 0)


def test_a_421_at_the_end_of_data_loses_no_message_behind_it(
    relay: Relay, skeleton: object
) -> None:
    """The relay answers the second content with 421 and hangs up: that message is
    transient; the one whose envelope had followed it (with PIPELINING) never began its
    transaction, so a new connection carries it with the rest, at no cost of an attempt."""
    relay.data[2] = "421 4.3.2 Shutting down"
    messages = _messages(skeleton, 4)
    results = _send_over_one_session(relay, messages)
    assert [r.outcome for r in results] == ["sent", "transient", "sent", "sent"]
    assert results[1] == Result("transient", error="SMTP 421 4.3.2 Shutting down")
    delivered = [r for r, _ in relay.delivered]
    assert sorted(delivered) == sorted(m.email for i, m in enumerate(messages) if i != 1)


def test_a_message_behind_a_421_is_transient_when_no_connection_is_left(
    relay: Relay, skeleton: object
) -> None:
    relay.data[2] = "421 4.3.2 Shutting down"
    relay.last_421 = True  # and no new connection is taken after it
    messages = _messages(skeleton, 4)
    results = _send_over_one_session(relay, messages)
    assert [r.outcome for r in results] == ["sent", "transient", "transient", "transient"]
    errors = [r.error or "" for r in results]
    assert errors[1] == "SMTP 421 4.3.2 Shutting down"
    if relay.pipelining:  # its envelope had followed the refused content
        assert errors[2] == (
            "not sent: the SMTP server closed the connection (SMTP 421 4.3.2 Shutting down)"
        )
    else:
        assert errors[2].startswith("cannot connect to 127.0.0.1:")
    assert errors[3].startswith("cannot connect to 127.0.0.1:")
    assert [r for r, _ in relay.delivered] == [messages[0].email]
