"""A parsed segment condition as one SQLAlchemy expression over ``subscribers``.

Every test becomes an ``EXISTS`` or a comparison correlated with the outer
``subscribers`` row, so a segment is a ``WHERE`` clause of the audience query: one SQL
statement, the same on SQLite and PostgreSQL. Values are bound parameters.

Two-valued logic on purpose: a field that is missing (or not text) reads as the empty
text, so ``not skin_type = "oily"`` includes people without a skin type, exactly as the
Python reading of the condition does (SQL's NULL would have dropped them).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from pipeline.store.tables import (
    deliveries,
    delivery_events,
    lists,
    subscriber_tags,
    subscribers,
    subscriptions,
)
from pipeline.subscribers.segments.language import (
    And,
    Engaged,
    FieldIn,
    HasTag,
    Missed,
    Node,
    Not,
    OnList,
    Or,
    Subscribed,
)

#: Events that show a person read an issue (a click implies an open).
OPEN_EVENTS = ("open", "click")
CLICK_EVENTS = ("click",)
#: Only a person's opens and clicks count: the tracking stage judges each one human or
#: machine (``delivery_events.verdict``; NULL on events recorded before it existed).
BY_A_PERSON = func.coalesce(delivery_events.c.verdict, "human") == "human"


class field_text(FunctionElement[str]):
    """``subscribers.attributes[name]`` when it is a JSON string, else NULL."""

    type = String()
    inherit_cache = True
    name = "field_text"


@compiles(field_text, "sqlite")
def _field_text_sqlite(element: field_text, compiler: Any, **kw: Any) -> str:
    column, key = list(element.clauses)
    col = compiler.process(column, **kw)
    path = compiler.process(key, **kw)
    return f"CASE WHEN json_type({col}, {path}) = 'text' THEN json_extract({col}, {path}) END"


@compiles(field_text, "postgresql")
def _field_text_pg(element: field_text, compiler: Any, **kw: Any) -> str:
    column, key = list(element.clauses)
    col = compiler.process(column, **kw)
    name = compiler.process(key, **kw)
    return (
        f"CASE WHEN json_typeof(({col})::json -> {name}) = 'string' "
        f"THEN ({col})::json ->> {name} END"
    )


def _field(name: str, dialect_path: bool) -> ColumnElement[str]:
    from sqlalchemy import literal

    key = f'$."{name}"' if dialect_path else name
    return func.coalesce(field_text(subscribers.c.attributes, literal(key)), "")


def start_of(day: Any) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def compile_condition(node: Node, *, now: datetime, dialect: str) -> ColumnElement[bool]:
    """The WHERE clause for ``node`` (``dialect``: 'sqlite' or 'postgresql'; the JSON path
    of a field is written differently). ``now`` anchors 'within N days'."""
    sqlite = dialect == "sqlite"

    def build(n: Node) -> ColumnElement[bool]:
        if isinstance(n, And):
            return and_(true(), *(build(p) for p in n.parts))
        if isinstance(n, Or):
            return or_(false(), *(build(p) for p in n.parts))
        if isinstance(n, Not):
            return not_(build(n.inner))
        if isinstance(n, OnList):
            return exists().where(
                subscriptions.c.subscriber_id == subscribers.c.id,
                subscriptions.c.status == "confirmed",
                subscriptions.c.list_id
                == select(lists.c.id).where(lists.c.slug == n.slug).scalar_subquery(),
            )
        if isinstance(n, HasTag):
            return exists().where(
                subscriber_tags.c.subscriber_id == subscribers.c.id,
                subscriber_tags.c.tag == n.tag,
            )
        if isinstance(n, FieldIn):
            value = _field(n.field, sqlite)
            if len(n.values) == 1:
                return value == n.values[0]
            return value.in_(list(n.values))
        if isinstance(n, Subscribed):
            if n.when == "before":
                return subscribers.c.created_at < start_of(n.day)
            return subscribers.c.created_at >= start_of(n.day) + timedelta(days=1)
        if isinstance(n, Engaged):
            events = OPEN_EVENTS if n.event == "opened" else CLICK_EVENTS
            return exists().where(
                deliveries.c.subscriber_id == subscribers.c.id,
                delivery_events.c.delivery_id == deliveries.c.id,
                delivery_events.c.event.in_(events),
                BY_A_PERSON,
                delivery_events.c.occurred_at >= now - timedelta(days=n.days),
            )
        if isinstance(n, Missed):
            return missed_last(n.issues)
        raise TypeError(f"not a segment node: {n!r}")

    return build(node)


def missed_last(issues: int) -> ColumnElement[bool]:
    """Received at least ``issues`` issues, and opened none of the last ``issues``."""
    received = (
        select(func.count())
        .select_from(deliveries)
        .where(deliveries.c.subscriber_id == subscribers.c.id, deliveries.c.status == "sent")
        .scalar_subquery()
    )
    last = (
        select(deliveries.c.id)
        .where(deliveries.c.subscriber_id == subscribers.c.id, deliveries.c.status == "sent")
        .order_by(deliveries.c.sent_at.desc(), deliveries.c.id.desc())
        .limit(issues)
        .correlate(subscribers)
    )
    opened = exists().where(
        delivery_events.c.delivery_id.in_(last),
        delivery_events.c.event.in_(OPEN_EVENTS),
        BY_A_PERSON,
    )
    return and_(received >= issues, not_(opened))
