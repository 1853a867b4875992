"""Sending to nobody never burns an issue: an edition whose audience is empty is refused.

``require_audience`` is called before an edition is frozen (``issue send``, ``issue
schedule``) and the engine pauses an edition whose snapshot would be empty (``send-due``),
so an edition is never marked ``sent`` after reaching no one. The error says which lists (or
which segment) leave nobody and how to add subscribers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Engine, func, select

from pipeline.errors import SendError
from pipeline.subscribers.audience import audience_select


def audience_size(
    engine: Engine, list_slugs: Sequence[str], where: ColumnElement[bool] | None = None
) -> int:
    """How many people would receive an edition sent to ``list_slugs`` now (``where``: a
    segment's clause)."""
    with engine.connect() as conn:
        query = select(func.count()).select_from(audience_select(list_slugs, where).subquery())
        return int(conn.execute(query).scalar_one())


def audience_exists(
    engine: Engine, list_slugs: Sequence[str], where: ColumnElement[bool] | None = None
) -> bool:
    """Whether anyone would receive an edition sent to ``list_slugs`` now: stops at the
    first (a count reads the whole audience)."""
    with engine.connect() as conn:
        query = select(audience_select(list_slugs, where).order_by(None).limit(1).exists())
        return bool(conn.execute(query).scalar_one())


def audience_zones(
    engine: Engine, list_slugs: Sequence[str], where: ColumnElement[bool] | None = None
) -> set[str]:
    """The distinct ``timezone`` fields of the audience (as written; unknown ones too)."""
    from sqlalchemy import literal

    from pipeline.subscribers.segments.query import field_text

    audience = audience_select(list_slugs, where).subquery()
    path = '$."timezone"' if engine.dialect.name == "sqlite" else "timezone"
    zone = field_text(audience.c.attributes, literal(path))
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(select(zone).distinct()) if r[0]}


def empty_audience_error(
    slug: str, list_slugs: Sequence[str], *, segment: str | None = None, on_lists: int = 0
) -> SendError:
    """The refusal for an edition of ``slug`` that would reach nobody. ``on_lists``: how
    many the lists hold before the segment narrows them."""
    if segment and on_lists:
        what = f"segment {segment!r} matches none of the {on_lists} subscriber(s) on " + ", ".join(
            repr(s) for s in list_slugs
        )
    else:
        parts = [f"list {name!r} has no confirmed, active subscriber" for name in list_slugs]
        what = "; ".join(parts) or "it names no list"
    first = list_slugs[0] if list_slugs else "LIST"
    change = "'lists:' or 'segment:'" if segment else "'lists:'"
    return SendError(
        f"{slug} would go to 0 recipients: {what}",
        fix=(
            f"add subscribers with 'newsletter subscribers add EMAIL --list {first}' or "
            f"'newsletter subscribers import FILE --list {first}', or change {change} in "
            f"issues/{slug}/issue.md; nothing was sent and the issue can still be sent"
        ),
    )


def audience_refusal(
    engine: Engine,
    slug: str,
    list_slugs: Sequence[str],
    where: ColumnElement[bool] | None = None,
    segment: str | None = None,
) -> SendError | None:
    """The refusal ``require_audience`` would raise, or None when someone would get it."""
    try:
        require_audience(engine, slug, list_slugs, where=where, segment=segment)
    except SendError as exc:
        return exc
    return None


def require_audience(
    engine: Engine,
    slug: str,
    list_slugs: Sequence[str],
    *,
    where: ColumnElement[bool] | None = None,
    segment: str | None = None,
) -> None:
    """SendError (naming the lists or the segment) when nobody would receive it."""
    if not audience_exists(engine, list_slugs, where):
        on_lists = audience_size(engine, list_slugs) if where is not None else 0
        raise empty_audience_error(slug, list_slugs, segment=segment, on_lists=on_lists)
