"""The one interface every transport implements, and what goes in and comes out.

``Transport.send_batch(messages, on_results) -> list[Result]`` takes messages of one
edition and returns one result per message, in the same order; it also calls
``on_results([(index, result), ...])`` as soon as answers are known (from the
transport's threads), so the engine can record results while the batch is still going.
A transport never raises for a recipient's problem: it reports it in that recipient's
result, as *sent*, *transient* (nothing was delivered, try again later: SMTP 4xx, a
refused or dropped connection before the message went out, HTTP 429/5xx), *failed*
(permanent: SMTP 5xx for the recipient, an address the transport cannot carry, a request
SendGrid rejects because of this recipient) or *uncertain* (the message went out but its
answer never came: a timeout or a dropped connection after SMTP DATA, a lost HTTP reply;
it may have been delivered, so it is not sent again by itself). ``TransportError`` means
the transport cannot be used at all (bad settings, a missing key, a refused login).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.sending.mime import MessageSkeleton

Outcome = Literal["sent", "transient", "failed", "uncertain"]
#: Called with [(index in the batch, result), ...] as answers arrive.
OnResults = Callable[[list[tuple[int, "Result"]]], None]


@dataclass
class Outgoing:
    """One message to one recipient. ``data`` is built when a transport asks for it and not
    kept, so a batch in memory is only its recipients, never all their messages."""

    skeleton: MessageSkeleton
    email: str
    name: str
    values: Mapping[str, str]
    message_id: str
    delivery_id: int | None = None
    envelope_from: str | None = None  # a per-delivery Return-Path (VERP); None: the sender

    @property
    def data(self) -> bytes:
        return self.skeleton.build(self.email, self.name, self.values, message_id=self.message_id)

    @property
    def smtp_data(self) -> bytes:
        """``data`` as SMTP's DATA carries it: dot-stuffed, ended by the final dot."""
        return self.skeleton.build_for_smtp(
            self.email, self.name, self.values, message_id=self.message_id
        )


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    provider_id: str | None = None
    error: str | None = None
    refused: bool = False  # the server refused this recipient for good (SMTP 5xx to RCPT/DATA)

    @property
    def ok(self) -> bool:
        return self.outcome == "sent"


class Transport(ABC):
    """Base class: a name, a batch size and a concurrency, and ``send_batch``."""

    name = "transport"
    batch_size = 500
    concurrency = 1
    #: Answers the engine writes at once (at the latest every quarter second); None: one
    #: per connection, so a kill -9 duplicates at most about 2 x ``concurrency``.
    record_every: int | None = None

    @abstractmethod
    def send_batch(
        self, messages: Sequence[Outgoing], on_results: OnResults | None = None
    ) -> list[Result]:
        """Send each message; one Result per message, in the same order, each also passed
        to ``on_results`` as soon as it is known."""

    def send_stream(self, parts: Iterator[Sequence[Outgoing]], on_results: OnResults) -> None:
        """Send the messages of ``parts`` (the hand-offs of one claim, pulled one at a time:
        the engine looks at the edition's state before yielding each), numbered in order
        across parts; every message pulled gets its result through ``on_results``. This
        default sends each part with ``send_batch``; a transport that can keep its
        connections busy across parts (SMTP) overrides it."""
        offset = 0
        for part in parts:

            def shifted(answers: list[tuple[int, Result]], base: int = offset) -> None:
                on_results([(base + i, result) for i, result in answers])

            results = self.send_batch(part, on_results=shifted)
            shifted(list(enumerate(results)))  # answers the transport did not report
            offset += len(part)

    @property
    def handoff_size(self) -> int:
        """At most this many messages are handed over in one ``send_batch`` call while
        sending an edition: the engine looks at the edition's state (cancelled, paused)
        between hand-offs, so a cancel stops the send within one of them. A few messages per
        connection keeps every connection busy."""
        return 10 * max(1, self.concurrency)

    def describe(self) -> str:
        """Where messages go, for people (e.g. 'maildir var/outbox')."""
        return self.name

    def close(self) -> None:  # noqa: B027 (optional hook: most transports hold nothing)
        """Release connections; the transport may be used again afterwards."""
