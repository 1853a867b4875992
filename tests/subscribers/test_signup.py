"""The web signup stage: subscriptions and their queued emails in one transaction, the same
for every address as far as the visitor can tell, nothing sent here."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, select

from pipeline.config import Settings
from pipeline.store.tables import mail_queue
from pipeline.subscribers.service import add_subscriber, get_subscriber, suppress, sync_lists
from pipeline.subscribers.signup import Signup, sign_up

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Engine:
    sync_lists(engine, settings)
    return engine


def rows(engine: Engine) -> list[tuple[str, int, str, str]]:
    with engine.connect() as conn:
        found = conn.execute(select(mail_queue).order_by(mail_queue.c.id)).all()
    return [(r.kind, r.subscriber_id, r.lists, r.status) for r in found]


def test_a_new_address_is_subscribed_unconfirmed_and_one_confirmation_is_queued(
    db: Engine, settings: Settings
) -> None:
    outcome = sign_up(settings, db, Signup("Ann@Example.com", ["beauty-tips"], "Ann"), now=NOW)
    info = get_subscriber(db, email="ann@example.com")
    assert info is not None and outcome.subscriber_id == info.id
    assert info.subscriptions == {"beauty-tips": "unconfirmed"}
    assert outcome.queued == ("confirm",)
    assert rows(db) == [("confirm", info.id, "beauty-tips", "queued")]
    # asked again before the worker ran: the same row, not a second one
    sign_up(settings, db, Signup("ann@example.com", ["beauty-tips"]), now=NOW)
    assert rows(db) == [("confirm", info.id, "beauty-tips", "queued")]


def test_known_and_suppressed_addresses_queue_nothing(db: Engine, settings: Settings) -> None:
    add_subscriber(db, "known@example.com", lists=["beauty-tips"], method="cli", confirmed=True)
    suppress(db, "angry@example.com", "complained")
    for address in ("known@example.com", "angry@example.com"):
        outcome = sign_up(settings, db, Signup(address, ["beauty-tips"]), now=NOW)
        assert outcome.queued == ()
    assert rows(db) == []
    assert get_subscriber(db, email="angry@example.com") is None


def test_the_queue_row_and_the_subscription_share_one_transaction(
    db: Engine, settings: Settings
) -> None:
    """A failure while queueing the email leaves no subscription behind (and the reverse)."""

    def refuse_queue(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MAIL_QUEUE"):
            raise RuntimeError("the disk is full")

    event.listen(db, "before_cursor_execute", refuse_queue)
    try:
        with pytest.raises(RuntimeError, match="the disk is full"):
            sign_up(settings, db, Signup("bo@example.com", ["beauty-tips"]), now=NOW)
    finally:
        event.remove(db, "before_cursor_execute", refuse_queue)
    assert get_subscriber(db, email="bo@example.com") is None
    assert rows(db) == []
