"""remove_subscriber: subscriptions or the whole subscriber go, each with a log row; the
address is not suppressed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from pipeline.config import Settings
from pipeline.errors import SubscriberError
from pipeline.store.tables import subscribers, subscription_log, subscriptions
from pipeline.subscribers.removal import remove_subscriber
from pipeline.subscribers.service import add_subscriber, get_subscriber, is_suppressed, sync_lists


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Engine:
    sync_lists(engine, settings)
    add_subscriber(
        engine, "Ann@example.com", lists=["news", "beauty-tips"], method="cli", confirmed=True
    )
    add_subscriber(engine, "bob@example.com", lists=["news"], method="cli", confirmed=True)
    return engine


def log(engine: Engine) -> list[tuple[object, ...]]:
    query = select(
        subscription_log.c.subscriber_id,
        subscription_log.c.action,
        subscription_log.c.old_status,
        subscription_log.c.new_status,
        subscription_log.c.method,
        subscription_log.c.detail,
    ).where(subscription_log.c.action == "remove")
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query.order_by(subscription_log.c.id))]


def test_removing_from_one_list_logs_it(db: Engine) -> None:
    ann = get_subscriber(db, email="ann@example.com")
    assert ann is not None
    removal = remove_subscriber(db, "ANN@example.com", lists=["news"])
    assert (removal.email, removal.whole, removal.lists) == ("ann@example.com", False, ["news"])
    after = get_subscriber(db, email="ann@example.com")
    assert after is not None and after.subscriptions == {"beauty-tips": "confirmed"}
    assert log(db) == [(ann.id, "remove", "confirmed", None, "cli", {})]
    assert not is_suppressed(db, "ann@example.com")


def test_removing_a_list_not_held_logs_nothing(db: Engine) -> None:
    removal = remove_subscriber(db, "bob@example.com", lists=["beauty-tips"])
    assert removal.lists == []
    assert log(db) == []


def test_removing_the_subscriber_leaves_one_row_without_personal_data(db: Engine) -> None:
    ann = get_subscriber(db, email="ann@example.com")
    assert ann is not None
    removal = remove_subscriber(db, "ann@example.com", method="api")
    assert (removal.whole, removal.lists) == (True, ["beauty-tips", "news"])
    assert get_subscriber(db, email="ann@example.com") is None
    with db.connect() as conn:
        left = conn.execute(
            select(subscriptions.c.subscriber_id).where(subscriptions.c.subscriber_id == ann.id)
        ).all()
        others = conn.execute(select(subscribers.c.email)).scalars().all()
    assert left == [] and others == ["bob@example.com"]
    assert log(db) == [
        (
            None,
            "remove",
            None,
            None,
            "api",
            {
                "subscriber_id": ann.id,
                "subscriptions": {"beauty-tips": "confirmed", "news": "confirmed"},
            },
        )
    ]
    assert not is_suppressed(db, "ann@example.com")
    again = add_subscriber(db, "ann@example.com", lists=["news"], method="cli", confirmed=True)
    assert again.created and not again.suppressed


def test_unknown_subscriber_or_list_is_refused_and_changes_nothing(db: Engine) -> None:
    with pytest.raises(SubscriberError) as unknown:
        remove_subscriber(db, "nobody@example.com")
    assert str(unknown.value) == (
        "no subscriber nobody@example.com (check the address with 'newsletter subscribers list')"
    )
    with pytest.raises(SubscriberError) as bad_list:
        remove_subscriber(db, "ann@example.com", lists=["news", "nope"])
    assert "unknown list 'nope'" in str(bad_list.value)
    ann = get_subscriber(db, email="ann@example.com")
    assert ann is not None and ann.subscriptions == {
        "beauty-tips": "confirmed",
        "news": "confirmed",
    }
    assert log(db) == []
