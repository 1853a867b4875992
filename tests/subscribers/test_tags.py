"""Custom fields a template may use: declared, or held (as text) by some subscriber."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from pipeline.config import Settings
from pipeline.subscribers.service import add_subscriber, sync_lists
from pipeline.subscribers.tags import has_field, known_fields


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block."""
    seen: list[str] = []

    def keep(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def test_fields_are_looked_up_as_asked_and_only_text_counts(
    engine: Engine, settings: Settings, make_settings: Callable[..., Settings]
) -> None:
    sync_lists(engine, settings)
    held: list[dict[str, Any]] = [{"skin_type": "oily"}, {"age": 31}, {}]
    for n, attributes in enumerate(held):
        add_subscriber(
            engine,
            f"reader{n}@example.com",
            lists=["beauty-tips"],
            method="cli",
            confirmed=True,
            attributes=attributes,
        )
    declared = make_settings(
        **{"database.url": settings.database.url, "audience.fields": ["favourite_serum"]}
    )

    with statements(engine) as seen:
        known = known_fields(declared, engine)
        assert "favourite_serum" in known  # declared: no query
        assert seen == []
        assert "skin_type" in known  # one subscriber holds it as text
        assert "age" not in known  # held as a number: not usable in an email
        assert "skin_tpye" not in known
        lookups = [s for s in seen if "attributes" in s]
        assert len(lookups) == 3  # one each
        asked = len(seen)
        assert "skin_type" in known and "age" not in known  # asked again: remembered
        assert len(seen) == asked

    assert has_field(engine, "skin_type")
    assert not has_field(engine, "nobody_has_this")
    assert "skin_type" not in known_fields(declared, None)  # no database: declared only
    assert "favourite_serum" in known_fields(declared, None)


def test_an_audience_is_found_without_counting_it(engine: Engine, settings: Settings) -> None:
    from pipeline.errors import SendError
    from pipeline.sending.audience import audience_exists, require_audience

    sync_lists(engine, settings)
    assert not audience_exists(engine, ["beauty-tips"])
    try:
        require_audience(engine, "2026-12-01-x", ["beauty-tips"])
    except SendError as exc:
        assert "list 'beauty-tips' has no confirmed, active subscriber" in str(exc)
    else:
        raise AssertionError("an empty audience was not refused")
    add_subscriber(engine, "one@example.com", lists=["beauty-tips"], method="cli", confirmed=False)
    assert not audience_exists(engine, ["beauty-tips"])  # not confirmed yet
    add_subscriber(engine, "two@example.com", lists=["beauty-tips"], method="cli", confirmed=True)
    with statements(engine) as seen:
        assert audience_exists(engine, ["beauty-tips"])
        require_audience(engine, "2026-12-01-x", ["beauty-tips"])
    assert seen and not any("count(" in s.lower() for s in seen)
