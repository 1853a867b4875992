"""The audience of an edition: confirmed on any of its lists, not suppressed, each once."""

from __future__ import annotations

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.subscribers.audience import stream_audience
from pipeline.subscribers.queries import count_subscribers
from pipeline.subscribers.service import add_subscriber, suppress, sync_lists, unsubscribe


def test_audience_in_keyset_batches(engine: Engine, settings: Settings) -> None:
    sync_lists(engine, settings)
    shapes = {
        "both": (["beauty-tips", "news"], True),
        "news": (["news"], True),
        "tips": (["beauty-tips"], True),
        "pending": (["news"], False),
        "bounced": (["news"], True),
        "left": (["news", "beauty-tips"], True),
        "left-news": (["news", "beauty-tips"], True),
    }
    ids: dict[str, int] = {}
    for name, (lists, confirmed) in shapes.items():
        added = add_subscriber(
            engine,
            f"{name}@example.com",
            name=name.title(),
            lists=lists,
            method="cli",
            confirmed=confirmed,
        )
        assert added.subscriber_id is not None
        ids[name] = added.subscriber_id
    suppress(engine, "bounced@example.com", "bounced")
    unsubscribe(engine, ids["left"], method="web")
    unsubscribe(engine, ids["left-news"], ["news"], method="web")

    batches = list(stream_audience(engine, ["news", "beauty-tips"], batch_size=2))
    assert [len(b) for b in batches] == [2, 2]
    recipients = [r for b in batches for r in b]
    assert [r.email for r in recipients] == [
        "both@example.com",
        "news@example.com",
        "tips@example.com",
        "left-news@example.com",
    ]
    assert recipients[0].name == "Both"
    assert [r.email for b in stream_audience(engine, ["news"]) for r in b] == [
        "both@example.com",
        "news@example.com",
    ]
    assert list(stream_audience(engine, [])) == []
    counts = count_subscribers(engine, ["news"])
    assert counts.audience == 2
    assert counts.by_status == {"active": 4, "unsubscribed": 1, "bounced": 1, "complained": 0}
