"""The audit log: who did what, to what, when, through the studio, the API or the
``users``/``tokens`` commands. Rows are only ever added; the one change is
``forget_target``, which takes an erased subscriber's address out of the entries naming it.

``actor`` is an account's email address, ``token:<name>`` for an API token, or ``cli``;
``action`` a dotted verb (``login``, ``login.failed``, ``user.add``, ``issue.schedule``);
``target`` what it was done to (an issue's slug, an address); ``detail`` a small JSON object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from pipeline.store.tables import audit_log

#: The longest actor, action and target stored (longer values are cut).
MAX_TEXT = 400


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any] | None


def record(
    engine: Engine,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Add one entry to the audit log."""
    with engine.begin() as conn:
        conn.execute(
            insert(audit_log).values(
                at=now or datetime.now(UTC),
                actor=actor[:MAX_TEXT],
                action=action[:100],
                target=target[:MAX_TEXT],
                detail=detail,
            )
        )


def recent(
    engine: Engine, limit: int = 50, *, actor: str | None = None, action: str | None = None
) -> list[AuditEntry]:
    """The newest ``limit`` entries, newest first (optionally of one actor or action)."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(max(1, min(limit, 10_000)))
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        AuditEntry(row.id, row.at, row.actor, row.action, row.target, row.detail) for row in rows
    ]


def forget_target(engine: Engine, target: str) -> int:
    """Replace ``target`` by ``(erased)`` in every entry (a subscriber's address, when they
    are erased); returns how many entries named it."""
    if not target:
        return 0
    with engine.begin() as conn:
        return int(
            conn.execute(
                update(audit_log).where(audit_log.c.target == target).values(target="(erased)")
            ).rowcount
        )
