"""Small helpers for the subscriber tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from pipeline.store.tables import subscribers, subscriptions, suppressions
from pipeline.subscribers.audience import stream_audience


def write(path: Path, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def audience(engine: Engine, lists: list[str]) -> list[str]:
    return [r.email for batch in stream_audience(engine, lists) for r in batch]


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (subscribers, subscriptions, suppressions)
        }


def people(engine: Engine) -> dict[str, dict[str, Any]]:
    """email -> name, status, attributes and {list_id: status} (for comparisons)."""
    with engine.connect() as conn:
        rows = conn.execute(select(subscribers)).all()
        subs = conn.execute(select(subscriptions)).all()
    found: dict[str, dict[str, Any]] = {}
    by_id = {}
    for r in rows:
        found[r.email] = {
            "name": r.name,
            "status": r.status,
            "attributes": r.attributes,
            "lists": {},
        }
        by_id[r.id] = found[r.email]
    for s in subs:
        by_id[s.subscriber_id]["lists"][s.list_id] = s.status
    return found
