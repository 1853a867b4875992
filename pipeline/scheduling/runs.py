"""The record of `newsletter send-due` runs: one row each, so anyone can see cron is alive.

``newsletter schedule`` shows the last run; a row left ``running`` long after it started
belongs to a process that died (the next run resumes its editions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from pipeline.store.rows import from_row
from pipeline.store.tables import send_runs


@dataclass(frozen=True)
class SendRun:
    id: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | ok | failed
    editions: int
    sent: int
    failed: int
    missed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "worker": self.worker,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "editions": self.editions,
            "sent": self.sent,
            "failed": self.failed,
            "missed": self.missed,
        }


def start_run(engine: Engine, worker: str, now: datetime) -> int:
    with engine.begin() as conn:
        key = conn.execute(
            insert(send_runs).values(
                worker=worker[:100],
                started_at=now,
                status="running",
                editions=0,
                sent=0,
                failed=0,
                missed=0,
                detail=[],
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


def finish_run(
    engine: Engine,
    run_id: int,
    now: datetime,
    *,
    ok: bool,
    editions: int,
    sent: int,
    failed: int,
    missed: int,
    detail: list[dict[str, Any]],
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(send_runs)
            .where(send_runs.c.id == run_id)
            .values(
                finished_at=now,
                status="ok" if ok else "failed",
                editions=editions,
                sent=sent,
                failed=failed,
                missed=missed,
                detail=detail,
            )
        )


def last_run(engine: Engine) -> SendRun | None:
    """The most recent send-due run, or None when cron has never run one."""
    with engine.connect() as conn:
        row = conn.execute(
            select(send_runs).order_by(send_runs.c.started_at.desc(), send_runs.c.id.desc())
        ).first()
    if row is None:
        return None
    return from_row(SendRun, row)
