"""A subscriber's custom fields (``subscribers.attributes``), changed one by one: what the
studio's subscriber page and the API's ``PATCH /api/v1/subscribers/{email}`` do.

Names are lower-case identifiers (``skin_type``), values text (at most 1,000 characters);
``None`` removes a field. Other fields are kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, select, update

from pipeline.errors import SubscriberError
from pipeline.store.tables import subscribers, utcnow
from pipeline.subscribers.history import log_row, write_log

FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")
MAX_VALUE = 1000


def check_fields(fields: Mapping[str, Any]) -> dict[str, str | None]:
    """``fields`` with their names and values checked (SubscriberError says which is wrong)."""
    checked: dict[str, str | None] = {}
    for name, value in fields.items():
        if not FIELD_NAME.fullmatch(name):
            raise SubscriberError(
                f"{name!r} is not a field name",
                fix="use lower-case letters, digits and _ (at most 64), e.g. skin_type",
            )
        if value is not None and not isinstance(value, str | int | float | bool):
            raise SubscriberError(f"the field {name!r} must be text", fix="send a string or null")
        text = None if value is None else str(value)
        if text is not None and len(text) > MAX_VALUE:
            raise SubscriberError(
                f"the field {name!r} is too long", fix=f"keep it under {MAX_VALUE} characters"
            )
        checked[name] = text
    return checked


def set_fields(
    engine: Engine, subscriber_id: int, fields: Mapping[str, Any], *, method: str
) -> dict[str, Any]:
    """Set (or with ``None`` remove) some of a subscriber's fields; returns all of them."""
    changes = check_fields(fields)
    with engine.begin() as conn:
        row = conn.execute(
            select(subscribers.c.attributes).where(subscribers.c.id == subscriber_id)
        ).first()
        if row is None:
            raise SubscriberError("no such subscriber", fix="check the address")
        current = dict(row.attributes or {})
        updated = {k: v for k, v in current.items() if changes.get(k, v) is not None}
        updated.update({k: v for k, v in changes.items() if v is not None})
        if updated != current:
            now = utcnow()
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(attributes=updated, updated_at=now)
            )
            write_log(
                conn,
                [
                    log_row(
                        subscriber_id,
                        None,
                        "fields",
                        None,
                        None,
                        method=method,
                        at=now,
                        detail={"changed": sorted(changes)},
                    )
                ],
            )
    return updated
