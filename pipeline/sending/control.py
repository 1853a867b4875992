"""Stopping an edition: ``cancel_edition`` is what ``newsletter issue cancel`` does.

Cancel means stop. The edition moves to ``cancelled`` at once; its pending rows are marked
``cancelled``. A send running elsewhere looks at the edition's state before each hand-off to
the transport (``engine._send_claimed``), so it stops within one hand-off (a few messages per
connection) and its claimed rows that were not handed over are cancelled too, never sent.
What was sent stays sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from pipeline.clock import Clock
from pipeline.errors import SendError
from pipeline.sending import ledger
from pipeline.sending.editions import get_edition, transition

#: States an edition can be cancelled from.
CANCELLABLE: tuple[str, ...] = ("frozen", "scheduled", "sending", "paused")


@dataclass(frozen=True)
class Cancelled:
    slug: str
    cancelled: int  # ledger rows that will not be sent
    sent: int  # sent before the cancel


def cancel_edition(engine: Engine, slug: str, *, clock: Clock) -> Cancelled:
    """Cancel ``slug``'s edition; SendError when it is already finished."""
    edition = get_edition(engine, slug)
    now = clock.now()
    if not transition(engine, edition.id, CANCELLABLE, "cancelled", finished_at=now):
        current = get_edition(engine, slug).status
        raise SendError(
            f"{slug} is {current} and cannot be cancelled",
            fix="only a frozen, scheduled, sending or paused edition can be cancelled",
        )
    cancelled = ledger.cancel_pending(engine, edition.id, now)
    sent = ledger.count_by_status(engine, edition.id)["sent"]
    return Cancelled(slug, cancelled, sent)
