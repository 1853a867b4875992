"""Counters with a time window, kept in the database, so every uvicorn worker (and every host
behind the same database) counts together: the web app's per-network signup limit and the
confirmation emails' per-address cooldown and hourly cap.

A fixed window: one row per (key, window start) holding the number of hits, incremented with
a single ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (atomic on SQLite and PostgreSQL).
Rows of past windows are deleted now and then, per family of keys (the part before the
first ``:``, which shares one window length: ``signup:``, ``confirm:``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pipeline.store.tables import web_rate_limits


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    hits: int
    retry_after: int  # seconds until the window ends


def count_hit(engine: Engine, key: str, *, limit: int, window: int, now: datetime) -> Verdict:
    """Count one hit for ``key`` in the current window; allowed while hits <= limit."""
    epoch = int(now.timestamp())
    start = epoch - epoch % window
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    upsert = insert(web_rate_limits).values(key=key[:200], window_start=start, hits=1)
    stmt = upsert.on_conflict_do_update(
        index_elements=[web_rate_limits.c.key, web_rate_limits.c.window_start],
        set_={"hits": web_rate_limits.c.hits + 1},
    ).returning(web_rate_limits.c.hits)
    with engine.begin() as conn:
        hits = int(conn.execute(stmt).scalar_one())
        if hits == 1:  # first hit of a window: forget this family's windows that are over
            family = key.partition(":")[0] + ":%"
            conn.execute(
                delete(web_rate_limits).where(
                    web_rate_limits.c.key.like(family), web_rate_limits.c.window_start < start
                )
            )
    return Verdict(hits <= limit, hits, start + window - epoch)
