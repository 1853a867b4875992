"""Small database helpers shared by the subscriber modules: the change log, upserts, lists.

``subscription_log`` is append-only: every change of a subscription or of a subscriber's
status writes one row here (who, which list, old and new status, how, from which IP).
Erasure is the only thing that deletes from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.errors import SubscriberError
from pipeline.store.tables import lists, subscription_log


def log_row(
    subscriber_id: int | None,
    list_id: int | None,
    action: str,
    old: str | None,
    new: str | None,
    *,
    method: str,
    at: datetime,
    ip: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One subscription_log row as a dict (for executemany)."""
    return {
        "subscriber_id": subscriber_id,
        "list_id": list_id,
        "action": action,
        "old_status": old,
        "new_status": new,
        "method": method,
        "detail": dict(detail or {}),
        "ip": ip,
        "at": at,
    }


def write_log(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(subscription_log.insert(), list(rows))


def insert_ignoring_conflicts(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT rows, silently skipping those whose primary/unique key already exists."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        pg_stmt = postgresql.insert(table).on_conflict_do_nothing()
        conn.execute(pg_stmt, list(rows))
    else:
        lite_stmt = sqlite.insert(table).on_conflict_do_nothing()
        conn.execute(lite_stmt, list(rows))


def list_ids(conn: Connection, slugs: Sequence[str] | None = None) -> dict[str, int]:
    """slug -> id for ``slugs`` (every list when None); unknown slugs raise SubscriberError."""
    rows = conn.execute(select(lists.c.slug, lists.c.id)).all()
    known = {slug: id_ for slug, id_ in rows}
    if slugs is None:
        return known
    missing = [s for s in slugs if s not in known]
    if missing:
        raise SubscriberError(
            f"unknown list {missing[0]!r}",
            fix="known lists: "
            + (", ".join(sorted(known)) or "none")
            + "; add it to newsletter.toml or run 'newsletter lists create'",
        )
    return {s: known[s] for s in slugs}
