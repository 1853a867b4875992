"""Segments: named conditions from ``[[segments]]`` in newsletter.toml, compiled to SQL.

``segment_condition(settings, name)`` finds a segment and checks its condition (a
``ConfigError`` names the setting, the segment and the position of a syntax error);
``segment_where(condition, now, dialect)`` gives the WHERE clause the audience query adds;
``pipeline.subscribers.audience.count_segment`` counts who is in it. The language is in
``language.py`` and documented in docs/audience.md.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.subscribers.segments.language import (
    Node,
    SegmentSyntaxError,
    lists_named,
    parse_condition,
)
from pipeline.subscribers.segments.query import compile_condition

__all__ = [
    "Node",
    "SegmentSyntaxError",
    "check_segments",
    "parse_condition",
    "segment_condition",
    "segment_where",
]


def _parse(settings: Settings, index: int) -> Node:
    segment = settings.segments[index]
    where = f"segments[{index}].condition (segment {segment.name!r})"
    try:
        node = parse_condition(segment.condition)
    except SegmentSyntaxError as exc:
        raise ConfigError(
            f"newsletter.toml: {where}: position {exc.position}: {exc.what}",
            fix="see 'Segments' in docs/audience.md for the condition language",
        ) from None
    unknown = sorted(lists_named(node) - set(settings.list_slugs))
    if unknown:
        raise ConfigError(
            f"newsletter.toml: {where}: unknown list {unknown[0]!r}",
            fix=f"lists in newsletter.toml: {', '.join(settings.list_slugs) or 'none'}",
        )
    return node


def check_segments(settings: Settings) -> None:
    """Parse every segment; ConfigError for the first that is wrong."""
    for index in range(len(settings.segments)):
        _parse(settings, index)


def segment_condition(settings: Settings, name: str) -> str:
    """The (checked) condition of the segment called ``name``."""
    for index, segment in enumerate(settings.segments):
        if segment.name == name:
            _parse(settings, index)
            return segment.condition
    known = ", ".join(s.name for s in settings.segments) or "none"
    raise ConfigError(
        f"unknown segment {name!r}",
        fix=f"segments in newsletter.toml: {known}; add a [[segments]] entry",
    )


def segment_where(condition: str, *, now: datetime, dialect: str) -> ColumnElement[bool]:
    """The WHERE clause (over ``subscribers``) for a condition."""
    try:
        node = parse_condition(condition)
    except SegmentSyntaxError as exc:
        raise ConfigError(
            f"segment condition {condition!r}: position {exc.position}: {exc.what}",
            fix="see 'Segments' in docs/audience.md",
        ) from None
    return compile_condition(node, now=now, dialect=dialect)
