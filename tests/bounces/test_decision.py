"""The one suppression decision, whatever the source: SendGrid's webhook, the bounce
mailbox, SMTP refusals. Rules written once, tested once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from pipeline.bounces.decision import Bounce, apply_bounce
from pipeline.bounces.verp import read_verp, verp_address
from pipeline.config import BouncesSection
from pipeline.sending.events import record_events
from pipeline.store.tables import delivery_events, suppressions
from tests.web.helpers import delivered_to, person, sent_edition

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RULES = BouncesSection(soft_limit=3, soft_window_days=30)


@pytest.fixture
def engine(engine: Engine) -> Engine:
    """The test database with the newsletter's lists."""
    from pipeline.subscribers.service import create_list

    create_list(engine, "beauty-tips", "Beauty tips")
    return engine


def bounce(delivery: int, kind: str, source: str, at: datetime, **extra: object) -> Bounce:
    return Bounce(
        email="ana@example.com",
        kind=kind,  # type: ignore[arg-type]
        source=source,
        occurred_at=at,
        delivery_id=delivery,
        **extra,  # type: ignore[arg-type]
    )


def test_a_hard_bounce_suppresses_at_once_with_its_reason(engine: Engine) -> None:
    eid = sent_edition(engine)
    _, did = delivered_to(engine, eid, "ana@example.com")
    verdict = apply_bounce(engine, RULES, bounce(did, "hard", "mailbox", NOW, reason="5.1.1"))
    assert verdict == "suppressed"
    assert person(engine, "ana@example.com")["status"] == "bounced"
    with engine.connect() as conn:
        ((reason, source),) = conn.execute(select(suppressions.c.reason, suppressions.c.source))
    assert (reason, source) == ("bounced", "mailbox: 5.1.1")


def test_a_complaint_suppresses_as_complained(engine: Engine) -> None:
    eid = sent_edition(engine)
    _, did = delivered_to(engine, eid, "ana@example.com")
    assert apply_bounce(engine, RULES, bounce(did, "complaint", "sendgrid", NOW)) == "suppressed"
    assert person(engine, "ana@example.com")["status"] == "complained"


def test_soft_bounces_from_any_source_suppress_at_the_limit_within_the_window(
    engine: Engine,
) -> None:
    eids = [sent_edition(engine, f"2026-11-0{n}-x") for n in range(1, 5)]
    dids = [delivered_to(engine, eids[0], "ana@example.com")[1]]
    from sqlalchemy import insert

    from pipeline.store.tables import deliveries

    sid = person(engine, "ana@example.com")["id"]
    with engine.begin() as conn:
        for eid in eids[1:]:
            dids.append(
                int(
                    conn.execute(
                        insert(deliveries).values(
                            edition_id=eid,
                            subscriber_id=sid,
                            email="ana@example.com",
                            status="sent",
                        )
                    ).inserted_primary_key[0]  # type: ignore[index]
                )
            )
    # One 40 days ago falls outside the 30-day window: it does not count.
    old = apply_bounce(engine, RULES, bounce(dids[0], "soft", "mailbox", NOW - timedelta(days=40)))
    first = apply_bounce(engine, RULES, bounce(dids[1], "soft", "mailbox", NOW - timedelta(days=9)))
    # SendGrid's "blocked" bounce is a soft one: the webhook records it, the decision counts it.
    report = record_events(
        engine,
        [
            {
                "email": "ana@example.com",
                "event": "bounce",
                "type": "blocked",
                "timestamp": int((NOW - timedelta(days=5)).timestamp()),
                "sg_event_id": "evt-blocked",
                "delivery_id": str(dids[2]),
            }
        ],
        now=NOW - timedelta(days=5),
        rules=RULES,
    )
    assert report.recorded == 1
    assert (old, first, person(engine, "ana@example.com")["status"]) == (
        "counted",
        "counted",
        "active",
    )
    third = apply_bounce(engine, RULES, bounce(dids[3], "soft", "smtp", NOW))
    assert third == "suppressed"
    assert person(engine, "ana@example.com")["status"] == "bounced"
    with engine.connect() as conn:
        (source,) = conn.execute(select(suppressions.c.source)).one()
    assert source == "smtp: 3 soft bounces within 30 days"


def test_the_same_message_is_acted_on_once(engine: Engine) -> None:
    eid = sent_edition(engine)
    _, did = delivered_to(engine, eid, "ana@example.com")
    once = bounce(did, "soft", "mailbox", NOW, event_id="mail:abc")
    assert [apply_bounce(engine, RULES, once) for _ in range(3)] == [
        "counted",
        "already",
        "already",
    ]
    with engine.connect() as conn:
        assert len(conn.execute(select(delivery_events.c.id)).all()) == 1


def test_verp_addresses_name_their_delivery_and_cannot_be_forged() -> None:
    address = verp_address("bounces@glownotes.example.com", "key", "b", 12345)
    assert address.startswith("bounces+b12345-") and address.endswith("@glownotes.example.com")
    token = read_verp(address, "key")
    assert token is not None and (token.kind, token.delivery_id) == ("b", 12345)
    assert read_verp(address.upper(), "key") == token  # servers may change the case
    assert read_verp(address, "another key") is None
    assert read_verp(address.replace("b12345", "b12346"), "key") is None
    assert read_verp(address.replace("+b", "+u"), "key") is None  # kinds are not swappable
    assert read_verp("bounces@glownotes.example.com", "key") is None


@pytest.mark.parametrize("code", [550, 553, 554])
def test_smtp_refusal_texts(code: int) -> None:
    from pipeline.sending.transports.smtp_sessions import classify as _classify

    result = _classify(code, b"5.1.1 no such user", recipient=True)
    assert (result.outcome, result.refused) == ("failed", True)
    assert _classify(code, b"sender rejected").refused is False  # MAIL FROM: not theirs
    assert _classify(450, b"try later", recipient=True).refused is False
