"""The one interface every transport implements, and what goes in and comes out.

``Transport.send_batch(messages) -> list[Result]`` takes messages of one edition and returns
one result per message, in the same order. A transport never raises for a recipient's
problem: it reports it in that recipient's result, as *sent*, *transient* (try again later:
SMTP 4xx, a dropped connection, HTTP 429/5xx, a timeout) or *failed* (permanent: SMTP 5xx
for the recipient, HTTP 400). ``TransportError`` means the transport cannot be used at all
(bad settings, a missing key).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.sending.mime import MessageSkeleton

Outcome = Literal["sent", "transient", "failed"]


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

    @abstractmethod
    def send_batch(self, messages: Sequence[Outgoing]) -> list[Result]:
        """Send each message; one Result per message, in the same order."""

    def describe(self) -> str:
        """Where messages go, for people (e.g. 'maildir var/outbox')."""
        return self.name

    def close(self) -> None:  # noqa: B027 (optional hook: most transports hold nothing)
        """Release connections; the transport may be used again afterwards."""
