"""The subscriber API other stages call: add, confirm, unsubscribe, suppress, preferences."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, func, select

from pipeline.config import Settings
from pipeline.errors import SubscriberError
from pipeline.store.db import connect
from pipeline.store.tables import app_meta, subscription_log, suppressions
from pipeline.subscribers.audience import stream_audience
from pipeline.subscribers.service import (
    add_subscriber,
    address_hash,
    confirm_subscription,
    get_subscriber,
    is_suppressed,
    set_lists,
    set_name,
    suppress,
    sync_lists,
    unsubscribe,
)
from pipeline.subscribers.suppression import suppression_salt


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Engine:
    sync_lists(engine, settings)
    return engine


def audience(engine: Engine, lists: list[str]) -> list[str]:
    return [r.email for batch in stream_audience(engine, lists) for r in batch]


def test_add_confirm_and_audience(db: Engine) -> None:
    result = add_subscriber(
        db,
        " Ann@Example.COM ",
        name="Ann Ågren",
        lists=["news"],
        method="web",
        consent_text="Yes please",
        ip="192.0.2.1",
        confirmed=False,
    )
    assert result.created and not result.suppressed and result.subscriber_id
    assert audience(db, ["news"]) == []
    assert confirm_subscription(db, result.subscriber_id, ip="192.0.2.2") == ["news"]
    assert confirm_subscription(db, result.subscriber_id) == []
    assert audience(db, ["news", "beauty-tips"]) == ["ann@example.com"]
    again = add_subscriber(
        db, "ANN@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    assert again.subscriber_id == result.subscriber_id and not again.created
    info = get_subscriber(db, email="ann@EXAMPLE.com")
    assert info is not None
    assert info.name == "Ann Ågren"
    assert info.subscriptions == {"beauty-tips": "confirmed", "news": "confirmed"}
    assert audience(db, ["news", "beauty-tips"]) == ["ann@example.com"]


def test_unsubscribe_one_list_then_all(db: Engine) -> None:
    sid = add_subscriber(
        db, "bo@example.org", lists=["news", "beauty-tips"], method="cli", confirmed=True
    ).subscriber_id
    assert sid is not None
    unsubscribe(db, sid, ["news"], method="web")
    info = get_subscriber(db, sid)
    assert info is not None and info.status == "active"
    assert info.subscriptions == {"beauty-tips": "confirmed", "news": "unsubscribed"}
    assert not is_suppressed(db, "bo@example.org")
    unsubscribe(db, sid, method="web")
    info = get_subscriber(db, sid)
    assert info is not None and info.status == "unsubscribed"
    assert set(info.subscriptions.values()) == {"unsubscribed"}
    assert is_suppressed(db, "BO@example.org")
    # An add (or import) never brings the address back ...
    result = add_subscriber(db, "bo@example.org", lists=["news"], method="cli", confirmed=True)
    assert result.suppressed and result.subscriber_id == sid
    assert audience(db, ["news", "beauty-tips"]) == []
    # ... the person asking again does.
    result = add_subscriber(
        db, "bo@example.org", lists=["news"], method="web", confirmed=True, allow_resubscribe=True
    )
    assert not result.suppressed
    assert audience(db, ["news"]) == ["bo@example.org"]
    assert not is_suppressed(db, "bo@example.org")


def test_bounce_and_complaint_are_kept(db: Engine) -> None:
    sid = add_subscriber(
        db, "cy@example.net", lists=["news"], method="cli", confirmed=True
    ).subscriber_id
    suppress(db, "cy@example.net", "complained", source="sendgrid")
    info = get_subscriber(db, sid)
    assert info is not None and info.status == "complained"
    assert info.subscriptions == {"news": "confirmed"}
    result = add_subscriber(
        db, "cy@example.net", lists=["news"], method="web", confirmed=True, allow_resubscribe=True
    )
    assert result.suppressed
    assert audience(db, ["news"]) == []
    # An address that was never a subscriber is kept only as a hash.
    suppress(db, "Stranger@Example.net", "bounced")
    assert is_suppressed(db, "stranger@example.net")
    with db.connect() as conn:
        hashes = set(conn.execute(select(suppressions.c.address_hash)).scalars())
    assert address_hash(db, "stranger@example.net") in hashes
    assert all("@" not in h for h in hashes)


def test_set_lists_and_name(db: Engine) -> None:
    sid = add_subscriber(
        db, "di@example.com", lists=["news"], method="web", confirmed=False
    ).subscriber_id
    assert sid is not None
    set_lists(db, sid, ["beauty-tips"], method="web", ip="192.0.2.9")
    set_name(db, sid, "  Di Ñúñez ")
    info = get_subscriber(db, sid)
    assert info is not None
    assert info.name == "Di Ñúñez"
    assert info.subscriptions == {"beauty-tips": "confirmed", "news": "unsubscribed"}
    unsubscribe(db, sid, method="web")
    set_lists(db, sid, ["news"], method="web")
    info = get_subscriber(db, sid)
    assert info is not None and info.status == "active"
    assert info.subscriptions == {"beauty-tips": "unsubscribed", "news": "confirmed"}
    with db.connect() as conn:
        actions = list(
            conn.execute(
                select(subscription_log.c.action)
                .where(subscription_log.c.subscriber_id == sid)
                .order_by(subscription_log.c.id)
            ).scalars()
        )
    assert actions == [
        "subscribe",
        "subscribe",
        "unsubscribe",
        "suppress",
        "unsubscribe",
        "resubscribe",
        "resubscribe",
    ]


def test_errors(db: Engine) -> None:
    with pytest.raises(SubscriberError) as err:
        add_subscriber(db, "nobody", lists=["news"], method="cli", confirmed=True)
    assert str(err.value) == (
        "'nobody' is not a valid email address: An email address must have an @-sign."
    )
    with pytest.raises(SubscriberError) as err:
        add_subscriber(db, "x@example.com", lists=["nope"], method="cli", confirmed=True)
    assert str(err.value) == (
        "unknown list 'nope' (known lists: beauty-tips, news; add it to newsletter.toml or"
        " run 'newsletter lists create')"
    )
    with pytest.raises(SubscriberError) as err:
        suppress(db, "x@example.com", "annoyed")
    assert str(err.value) == (
        "unknown suppression reason 'annoyed' (use one of unsubscribed, bounced, complained,"
        " erased, manual)"
    )


def test_salt_is_made_once(db: Engine) -> None:
    first = address_hash(db, "a@example.com")
    assert address_hash(db, "A@EXAMPLE.COM") == first
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(app_meta)).scalar_one() == 1


def test_sync_lists_is_idempotent(engine: Engine, settings: Settings) -> None:
    assert sync_lists(engine, settings) == {"beauty-tips": "created", "news": "created"}
    assert sync_lists(engine, settings) == {}
    renamed = settings.model_copy(
        update={"lists": [settings.lists[0].model_copy(update={"name": "Tips"})]}
    )
    assert sync_lists(engine, renamed) == {"beauty-tips": "updated"}


def test_salt_race_gives_one_salt(db_url: str) -> None:
    engines = [connect(db_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            salts = list(pool.map(suppression_salt, engines))
    finally:
        for eng in engines:
            eng.dispose()
    assert len(set(salts)) == 1
