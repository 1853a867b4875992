"""Fixtures of the sending tests: an audience bulk-inserted with SQL, a compiled edition."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, insert, select

from pipeline.render.personalise import CompiledEdition, compile_edition, placeholder
from pipeline.sending.editions import store_edition
from pipeline.store.tables import lists, subscribers, subscriptions, utcnow


def add_audience(
    engine: Engine,
    count: int,
    *,
    list_slug: str = "beauty-tips",
    start: int = 0,
    name: Callable[[int], str] = lambda i: f"Reader {i}",
) -> list[int]:
    """Insert ``count`` active subscribers confirmed on ``list_slug``; return their ids."""
    now = utcnow()
    with engine.begin() as conn:
        list_id = conn.execute(select(lists.c.id).where(lists.c.slug == list_slug)).scalar()
        if list_id is None:
            list_id = conn.execute(
                insert(lists).values(slug=list_slug, name=list_slug, created_at=now)
            ).inserted_primary_key[0]  # type: ignore[index]
        rows = [
            {
                "email": f"reader{i}@example.org",
                "name": name(i),
                "attributes": {},
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, start + count)
        ]
        if rows:
            conn.execute(insert(subscribers), rows)
        ids = [
            r[0]
            for r in conn.execute(
                select(subscribers.c.id)
                .where(subscribers.c.email.in_([r["email"] for r in rows]))
                .order_by(subscribers.c.id)
            )
        ]
        if ids:
            conn.execute(
                insert(subscriptions),
                [
                    {
                        "subscriber_id": sid,
                        "list_id": list_id,
                        "status": "confirmed",
                        "consent_method": "import",
                        "consent_text": "test",
                        "updated_at": now,
                    }
                    for sid in ids
                ],
            )
    return ids


def sample_compiled(subject_slot: bool = True) -> CompiledEdition:
    subject = "Glow notes for " + placeholder("first_name", "you") if subject_slot else "Glow"
    html = (
        "<html><body><p>Hi "
        + placeholder("first_name", "there")
        + ",</p><p>Microneedling: what it does &amp; does not do. Crème, café, 💄.</p>"
        + '<a href="'
        + placeholder("unsubscribe_url")
        + '">Unsubscribe</a> <a href="'
        + placeholder("preferences_url")
        + '">Preferences</a></body></html>'
    )
    text = (
        "Hi "
        + placeholder("first_name", "there")
        + ",\n\nMicroneedling: what it does and does not do.\n\nUnsubscribe: "
        + placeholder("unsubscribe_url")
        + "\n"
    )
    return compile_edition(subject, html, text, preheader="Tips")


@pytest.fixture
def compiled() -> CompiledEdition:
    return sample_compiled()


def make_edition(
    engine: Engine, slug: str = "2026-12-01-test", lists_: tuple[str, ...] = ("beauty-tips",)
) -> int:
    return store_edition(engine, slug, sample_compiled(), lists=list(lists_), content_hash="0" * 64)
