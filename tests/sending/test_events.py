"""The provider's delivery events, recorded by the sending stage (what the SendGrid webhook
route calls once the signature is checked): once per event, with their consequence for the
subscriber, never stopped by one bad event; and unsubscribes through our own links."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

from pipeline.sending.events import EventReport, record_events, record_link_unsubscribe
from pipeline.store.tables import deliveries, delivery_events
from pipeline.subscribers.service import get_subscriber, is_suppressed
from tests.sending.conftest import add_audience, make_edition

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _ledger(engine: Engine, edition_id: int, ids: list[int]) -> list[int]:
    with engine.begin() as conn:
        conn.execute(
            insert(deliveries),
            [
                {
                    "edition_id": edition_id,
                    "subscriber_id": sid,
                    "email": f"reader{n}@example.org",
                    "status": "sent",
                    "updated_at": NOW,
                }
                for n, sid in enumerate(ids)
            ],
        )
        return list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.id)).scalars())


def _events(engine: Engine) -> list[tuple[str, int | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(delivery_events).order_by(delivery_events.c.id)).all()
    return [(r.event, r.delivery_id, r.verdict) for r in rows]


def test_events_are_recorded_once_and_act_on_their_subscribers(engine: Engine) -> None:
    ids = add_audience(engine, 3)
    eid = make_edition(engine)
    d0, d1, d2 = _ledger(engine, eid, ids)
    batch = [
        {
            "event": "open",
            "email": "reader0@example.org",
            "sg_event_id": "e1",
            "delivery_id": str(d0),
            "edition_id": str(eid),
            "sg_machine_open": True,
        },
        {
            "event": "bounce",
            "type": "bounce",
            "email": "reader1@example.org",
            "sg_event_id": "e2",
            "delivery_id": str(d1),
            "ip": "203.0.113.9",
        },
        {
            "event": "unsubscribe",
            "email": "reader2@example.org",
            "sg_event_id": "e3",
            "delivery_id": str(d2),
        },
        "not an event",
        {"event": "", "sg_event_id": "e4"},
    ]
    report = record_events(engine, batch, now=NOW)
    assert report == EventReport(received=5, recorded=3, duplicates=0, ignored=2)
    assert _events(engine) == [
        ("open", d0, "machine"),
        ("bounce", d1, None),
        ("unsubscribe", d2, None),
    ]
    assert is_suppressed(engine, "reader1@example.org")
    reader2 = get_subscriber(engine, email="reader2@example.org")
    assert reader2 is not None and reader2.status == "unsubscribed"
    # SendGrid retries a batch: nothing twice
    again = record_events(engine, batch[:3], now=NOW)
    assert (again.recorded, again.duplicates) == (0, 3)
    with engine.connect() as conn:
        details = list(conn.execute(select(delivery_events.c.detail)).scalars())
    assert all("ip" not in d and "email" not in d for d in details)  # never kept


def test_an_unsubscribe_through_our_link_counts_for_its_edition(engine: Engine) -> None:
    ids = add_audience(engine, 1)
    eid = make_edition(engine)
    [d0] = _ledger(engine, eid, ids)
    record_link_unsubscribe(engine, ids[0], eid, source="one-click", now=NOW)
    record_link_unsubscribe(engine, ids[0], 999_999, source="web", now=NOW)  # unknown
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                delivery_events.c.delivery_id,
                delivery_events.c.edition_id,
                delivery_events.c.detail,
            ).order_by(delivery_events.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (d0, eid, {"source": "one-click"}),
        (None, None, {"source": "web"}),
    ]
