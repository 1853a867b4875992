"""A subscriber's custom fields, one by one (``subscribers.profile.set_fields``)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from pipeline.config import Settings
from pipeline.errors import SubscriberError
from pipeline.store.tables import subscription_log
from pipeline.subscribers import service
from pipeline.subscribers.profile import set_fields
from pipeline.subscribers.service import sync_lists


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Engine:
    sync_lists(engine, settings)
    return engine


def test_set_change_and_remove_fields_keeping_the_others(db: Engine) -> None:
    made = service.add_subscriber(
        db,
        "jo@example.com",
        lists=["beauty-tips"],
        method="cli",
        confirmed=True,
        attributes={"skin_type": "oily", "city": "York"},
    )
    sid = made.subscriber_id
    assert sid is not None
    fields = set_fields(db, sid, {"city": "Leeds", "skin_type": None, "age": 30}, method="api")
    assert fields == {"city": "Leeds", "age": "30"}
    info = service.get_subscriber(db, sid)
    assert info is not None and info.attributes == fields
    assert set_fields(db, sid, {"city": "Leeds"}, method="api") == fields  # no change
    with db.connect() as conn:
        logged = conn.execute(
            select(subscription_log.c.detail).where(subscription_log.c.action == "fields")
        ).all()
    assert [row.detail for row in logged] == [{"changed": ["age", "city", "skin_type"]}]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"Bad Name": "x"}, "is not a field name"),
        ({"note": "x" * 1001}, "is too long"),
        ({"note": ["a"]}, "must be text"),
    ],
)
def test_wrong_fields_are_refused(db: Engine, fields: dict[str, object], says: str) -> None:
    made = service.add_subscriber(
        db, "jo@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    assert made.subscriber_id is not None
    with pytest.raises(SubscriberError, match=says):
        set_fields(db, made.subscriber_id, fields, method="api")
    with pytest.raises(SubscriberError, match="no such subscriber"):
        set_fields(db, 999, {"a": "b"}, method="api")
