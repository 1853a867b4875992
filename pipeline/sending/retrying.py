"""Sending again to the recipients whose delivery failed (``issue retry-failed``)."""

from __future__ import annotations

from sqlalchemy import Engine

from pipeline.clock import Clock, SystemClock
from pipeline.errors import SendError
from pipeline.sending import ledger
from pipeline.sending.editions import get_edition, transition


def retry_failed(
    engine: Engine, slug: str, *, uncertain: bool = False, clock: Clock | None = None
) -> int:
    """Put the edition's failed rows (and its uncertain ones when asked: those recipients
    may then get two copies) back to pending with fresh attempts, and the edition back to
    ``sending``; returns how many rows. The engine then sends them as new requests: a
    SendGrid request that failed because of one recipient is never rebuilt, since that
    recipient failed alone and the others were sent."""
    now = (clock or SystemClock()).now()
    edition = get_edition(engine, slug)
    if edition.status not in ("sent", "paused", "sending"):
        raise SendError(
            f"{slug} is {edition.status}; there is nothing to retry",
            fix=f"'newsletter issue status {slug}' shows where it stands",
        )
    count = ledger.requeue_failed(engine, edition.id, now, uncertain=uncertain)
    if count:
        transition(
            engine,
            edition.id,
            ["sent", "paused"],
            "sending",
            finished_at=None,
            pause_reason=None,
        )
    return count
