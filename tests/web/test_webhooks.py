"""The SendGrid Event Webhook: signatures, timestamps, dedupe, consequences, stats."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import Engine, select

from pipeline.config import Settings
from pipeline.store.tables import delivery_events
from pipeline.tracking.stats import edition_stats
from pipeline.web.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.web.conftest import Server, SigningKey
from tests.web.helpers import delivered_to, other_server, person, sent_edition


def event(
    kind: str, email: str, delivery_id: int, edition_id: int, n: int, **extra: Any
) -> dict[str, Any]:
    return {
        "email": email,
        "event": kind,
        "timestamp": 1764579600,
        "sg_event_id": f"evt-{n}",
        "sg_message_id": f"msg-{n}",
        "delivery_id": str(delivery_id),
        "edition_id": str(edition_id),
        **extra,
    }


def post(server: Server, key: SigningKey, body: bytes, **overrides: str) -> httpx.Response:
    timestamp = overrides.pop("timestamp", str(int(server.clock.now().timestamp())))
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: overrides.pop("signature", key.sign(timestamp, body)),
        TIMESTAMP_HEADER: timestamp,
    }
    with server.client() as client:
        return client.post("/webhooks/sendgrid", content=body, headers=headers)


def test_signed_events_are_recorded_once_and_act_on_subscribers(
    server: Server, signing_key: SigningKey
) -> None:
    eid = sent_edition(server.engine)
    people = {
        name: delivered_to(server.engine, eid, f"{name}@example.com")
        for name in ("ann", "bob", "cy", "di", "ed")
    }

    def ev(kind: str, who: str, n: int, **extra: Any) -> dict[str, Any]:
        return event(kind, f"{who}@example.com", people[who][1], eid, n, **extra)

    batch = [
        ev("delivered", "ann", 1),
        ev("open", "ann", 2),
        ev("open", "ann", 3),
        ev("click", "ann", 4, url="https://example.com/a"),
        ev("delivered", "bob", 5),
        ev("bounce", "cy", 6, type="bounce", reason="550 no such user"),
        ev("bounce", "di", 7, type="blocked", reason="421 try later"),
        ev("spamreport", "ed", 8),
        ev("unsubscribe", "bob", 9),
        "not an event",
    ]
    body = json.dumps(batch).encode()
    first = post(server, signing_key, body)
    assert first.status_code == 200
    assert first.json() == {"received": 10, "recorded": 9, "duplicates": 0, "ignored": 1}

    again = post(server, signing_key, body)  # SendGrid retries: nothing twice
    assert again.json() == {"received": 10, "recorded": 0, "duplicates": 9, "ignored": 1}

    assert person(server.engine, "cy@example.com")["status"] == "bounced"
    assert person(server.engine, "di@example.com")["status"] == "active"  # blocked: not hard
    assert person(server.engine, "ed@example.com")["status"] == "complained"
    assert person(server.engine, "bob@example.com")["status"] == "unsubscribed"
    assert person(server.engine, "ann@example.com")["status"] == "active"

    with server.engine.connect() as conn:
        rows = conn.execute(select(delivery_events).order_by(delivery_events.c.id)).all()
    assert len(rows) == 9
    click = next(r for r in rows if r.event == "click")
    assert click.delivery_id == people["ann"][1]
    assert click.edition_id == eid
    assert click.detail == {"url": "https://example.com/a", "sg_message_id": "msg-4"}
    assert click.occurred_at.isoformat() == "2025-12-01T09:00:00+00:00"

    stats = edition_stats(server.engine, eid)
    assert (stats.sent, stats.delivered, stats.opens, stats.total_opens) == (5, 2, 1, 2)
    assert (stats.clicks, stats.bounces, stats.complaints, stats.unsubscribes) == (1, 2, 1, 1)
    assert stats.rates == {
        "delivered": 0.4,
        "opens": 0.5,
        "clicks": 0.5,
        "click_to_open": 1.0,
        "bounces": 0.4,
        "complaints": 0.5,
        "unsubscribes": 0.5,
    }


def test_refused_requests(server: Server, signing_key: SigningKey) -> None:
    eid = sent_edition(server.engine)
    _, delivery = delivered_to(server.engine, eid, "fay@example.com")
    body = json.dumps([event("spamreport", "fay@example.com", delivery, eid, 1)]).encode()
    now = str(int(server.clock.now().timestamp()))
    tampered = body.replace(b"spamreport", b"delivered!")
    wrong_key = SigningKey().sign(now, body)
    old = str(int(server.clock.now().timestamp()) - 601)

    answer = post(server, signing_key, tampered, signature=signing_key.sign(now, body))
    assert (answer.status_code, answer.json()) == (403, {"error": "invalid signature"})
    answer = post(server, signing_key, body, signature=wrong_key)
    assert (answer.status_code, answer.json()) == (403, {"error": "invalid signature"})
    answer = post(server, signing_key, body, signature="bm90IGEgc2lnbmF0dXJl")
    assert (answer.status_code, answer.json()) == (403, {"error": "invalid signature"})
    answer = post(server, signing_key, body, timestamp=old)
    assert (answer.status_code, answer.json()) == (403, {"error": "timestamp too old"})
    answer = httpx.post(f"{server.url}/webhooks/sendgrid", content=body)
    assert (answer.status_code, answer.json()) == (401, {"error": "missing signature headers"})
    answer = post(server, signing_key, b'{"event": "open"}')
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "the body is not a JSON list of events"},
    )
    assert person(server.engine, "fay@example.com")["status"] == "active"
    with server.engine.connect() as conn:
        assert conn.execute(select(delivery_events.c.id)).all() == []

    fresh = post(server, signing_key, body)  # the same body, properly signed, works
    assert fresh.json()["recorded"] == 1
    assert person(server.engine, "fay@example.com")["status"] == "complained"


def test_without_a_public_key_the_webhook_is_closed(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    with other_server(make_settings, db_url, engine) as bare:
        answer = httpx.post(f"{bare.url}/webhooks/sendgrid", content=b"[]")
    assert answer.status_code == 503
    assert answer.json() == {
        "error": "the webhook is not configured: set SENDGRID_WEBHOOK_PUBLIC_KEY"
    }


def test_events_find_their_edition_by_slug_too(server: Server, signing_key: SigningKey) -> None:
    eid = sent_edition(server.engine)
    body = json.dumps(
        [{"event": "open", "email": "x@example.com", "edition": "2026-12-01-test", "n": 1}]
    ).encode()
    assert post(server, signing_key, body).json()["recorded"] == 1
    with server.engine.connect() as conn:
        row = conn.execute(select(delivery_events)).one()
    assert (row.edition_id, row.delivery_id, row.provider_event_id) == (eid, None, None)
