from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.errors import TransportError
from pipeline.sending.engine import send_edition
from pipeline.sending.mime import MessageSkeleton
from pipeline.sending.recipient_values import recipient_values
from pipeline.sending.transports import get_transport
from pipeline.sending.transports.base import Outgoing
from pipeline.sending.transports.sendgrid import SendgridTransport, _Template, request_body
from pipeline.store.tables import deliveries
from pipeline.subscribers.service import get_subscriber
from tests.sending.conftest import SendgridStandIn, add_audience, make_edition, sample_compiled

KEY = "SG.test-key"


def _settings(
    make: Callable[..., Settings], db_url: str, api: SendgridStandIn, **more: object
) -> Settings:
    return make(
        env={"SENDGRID_API_KEY": KEY},
        **{
            "database.url": db_url,
            "sending.transport": "sendgrid",
            "sendgrid.host": api.url,
            "sendgrid.asm_group_id": 42,
            "sending.backoff_base": 0.0,
            "sending.pause_min_sample": 10_000,
            **more,
        },
    )


def _transport(
    settings: Settings, waits: list[float], now: float = 1_800_000_000.0
) -> SendgridTransport:
    transport = SendgridTransport.from_settings(settings)
    transport.sleep = waits.append
    transport.now = lambda: now
    return transport


def test_payloads_are_valid_and_carry_everything(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    settings = _settings(make_settings, db_url, sendgrid_api, **{"sendgrid.batch_size": 1000})
    add_audience(engine, 1100, name=lambda i: ["Zoë", '<Ann>&"Q" Smith', ""][i % 3])
    eid = make_edition(engine)
    report = send_edition(
        settings, engine, eid, clock=FixedClock(), transport=_transport(settings, [])
    )
    assert (report.sent, report.failed, report.status) == (1100, 0, "sent")
    assert sendgrid_api.violations == []
    assert sorted(len(r["personalizations"]) for r in sendgrid_api.requests) == [100, 1000]
    assert set(sendgrid_api.auth) == {f"Bearer {KEY}"}
    body = next(r for r in sendgrid_api.requests if len(r["personalizations"]) == 1000)
    assert body["asm"] == {"group_id": 42}
    assert body["categories"] == ["newsletter"]
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    first = body["personalizations"][0]
    assert first["to"] == [{"email": "reader0@example.org", "name": "Zoë"}]
    assert first["subject"] == "Glow notes for Zoë"
    assert set(first["custom_args"]) == {"delivery_id", "edition", "message_id"}
    assert all(isinstance(v, str) for v in first["custom_args"].values())
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    reader0 = get_subscriber(engine, email="reader0@example.org")
    assert reader0 is not None
    unsubscribe = recipient_values(settings, reader0.public_id, "reader0@example.org", "Zoë", eid)[
        "unsubscribe_url"
    ]
    assert first["headers"]["List-Unsubscribe"].startswith(f"<{unsubscribe.split('.')[0]}")
    html = body["content"][1]["value"]
    filled = html
    ann = next(p for p in sendgrid_api.accepted if p["to"][0]["email"] == "reader1@example.org")
    for token, value in ann["substitutions"].items():
        assert token in html or token in body["content"][0]["value"]
        filled = filled.replace(token, value)
    assert "Hi &lt;Ann&gt;&amp;&quot;Q&quot;," in filled
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(select(deliveries.c.provider_id))}
    assert ids == {"sg-1", "sg-2"}


@pytest.mark.parametrize(
    ("script", "requests", "waits"),
    [
        ([(429, {"X-RateLimit-Reset": "1800000030"})], 2, [30.0]),
        ([(500, {})], 2, [0.0]),
        ([(503, {}), (502, {})], 3, [0.0, 0.0]),
    ],
)
def test_429_and_5xx_are_retried_and_nothing_is_lost(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
    script: list[tuple[int, dict[str, str]]],
    requests: int,
    waits: list[float],
) -> None:
    settings = _settings(make_settings, db_url, sendgrid_api)
    add_audience(engine, 30)
    sendgrid_api.script = list(script)
    waited: list[float] = []
    eid = make_edition(engine)
    report = send_edition(
        settings, engine, eid, clock=FixedClock(), transport=_transport(settings, waited)
    )
    assert (report.sent, report.failed, report.status) == (30, 0, "sent")
    assert len(sendgrid_api.requests) == requests
    assert waited == waits
    assert sorted(p["to"][0]["email"] for p in sendgrid_api.accepted) == sorted(
        f"reader{i}@example.org" for i in range(30)
    )


def test_400_fails_the_request_and_is_not_retried(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    settings = _settings(make_settings, db_url, sendgrid_api)
    add_audience(engine, 5)
    sendgrid_api.script = [(400, {})]
    eid = make_edition(engine)
    report = send_edition(
        settings, engine, eid, clock=FixedClock(), transport=_transport(settings, [])
    )
    assert (report.sent, report.failed, report.status) == (0, 5, "sent")
    assert len(sendgrid_api.requests) == 1
    with engine.connect() as conn:
        errors = {r[0] for r in conn.execute(select(deliveries.c.error))}
    assert errors == {"SendGrid 400: The from address does not match a verified Sender Identity"}


def test_persistent_5xx_leaves_rows_for_a_later_attempt(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    settings = _settings(make_settings, db_url, sendgrid_api, **{"sending.max_attempts": 2})
    add_audience(engine, 3)
    sendgrid_api.script = [(500, {})] * 8
    eid = make_edition(engine)
    report = send_edition(
        settings, engine, eid, clock=FixedClock(), transport=_transport(settings, [])
    )
    assert (report.sent, report.retried, report.failed) == (0, 3, 3)
    with engine.connect() as conn:
        errors = {r[0] for r in conn.execute(select(deliveries.c.error))}
    assert errors == {"gave up after 2 attempts: SendGrid 500: try again later"}
    assert len(sendgrid_api.requests) == 8


def test_substitutions_over_the_limit_fail_before_sending(
    make_settings: Callable[..., Settings], sendgrid_api: SendgridStandIn
) -> None:
    settings = make_settings(env={"SENDGRID_API_KEY": KEY}, **{"sendgrid.host": sendgrid_api.url})
    skeleton = MessageSkeleton(settings, sample_compiled())
    big = recipient_values(settings, "p1", "a@example.org", "A", None)
    big["first_name"] = "x" * 9000
    small = recipient_values(settings, "p2", "b@example.org", "B", None)
    transport = SendgridTransport.from_settings(settings)
    results = transport.send_batch(
        [
            Outgoing(skeleton, "a@example.org", "A", big, "<1@x>", 1),
            Outgoing(skeleton, "b@example.org", "B", small, "<2@x>", 2),
        ]
    )
    assert results[0].outcome == "failed"
    assert results[0].error is not None and results[0].error.startswith(
        "the personalised values take 18,"
    )
    assert results[0].error.endswith(
        "above SendGrid's 10,000-byte substitutions limit "
        "(shorten the subscriber's name or use fewer recipient() fields)"
    )
    assert results[1].ok
    assert sendgrid_api.violations == []
    assert [p["to"][0]["email"] for p in sendgrid_api.accepted] == ["b@example.org"]


def test_missing_key_says_how_to_fix(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(**{"sending.transport": "sendgrid"})
    with pytest.raises(TransportError) as err:
        get_transport(settings)
    assert str(err.value) == (
        "SENDGRID_API_KEY is not set (export SENDGRID_API_KEY=SG.xxxx (an API key with Mail Send "
        'permission), or set [sending] transport = "maildir" in newsletter.toml)'
    )


def test_a_revoked_key_mid_batch_never_sends_anyone_twice(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    """Two requests at once: one is accepted (202), the other finds the key revoked (401).
    The accepted recipients are recorded as sent before the rest are given back, so the
    next run sends only the others: every reader gets exactly one message."""
    settings = _settings(
        make_settings,
        db_url,
        sendgrid_api,
        **{"sendgrid.batch_size": 10, "sendgrid.concurrency": 2},
    )
    add_audience(engine, 20)
    sendgrid_api.script = [(202, {}), (401, {})]
    sendgrid_api.hold_accepted = threading.Event()
    eid = make_edition(engine)
    with pytest.raises(TransportError, match="API key"):
        send_edition(settings, engine, eid, clock=FixedClock(), transport=_transport(settings, []))
    with engine.connect() as conn:
        statuses = sorted(r[0] for r in conn.execute(select(deliveries.c.status)))
    assert statuses == ["pending"] * 10 + ["sent"] * 10
    sendgrid_api.hold_accepted = None
    report = send_edition(
        settings, engine, eid, clock=FixedClock(), transport=_transport(settings, [])
    )
    assert (report.sent, report.status) == (10, "sent")
    accepted = sorted(p["to"][0]["email"] for p in sendgrid_api.accepted)
    assert accepted == sorted(f"reader{i}@example.org" for i in range(20))


def _dict_personalization(tpl: _Template, message: Outgoing) -> dict[str, Any]:
    """A personalization as the transport built it before it wrote JSON text (a dict per
    recipient, field by field): the reference the text must decode to."""
    values = message.values
    subs: dict[str, str] = {}
    for token, part, slot in tpl.tokens:
        raw = values.get(slot.field) or ""
        if not raw:
            subs[token] = slot.default
        else:
            subs[token] = html.escape(raw, quote=True) if part.kind == "html" else raw
    to = {"email": message.email, **({"name": message.name} if message.name else {})}
    out: dict[str, Any] = {
        "to": [to],
        "custom_args": {
            "delivery_id": str(message.delivery_id or 0),
            "edition": tpl.skeleton.slug,
            "message_id": message.message_id,
        },
        "headers": {
            "List-Unsubscribe": f"<{values.get('unsubscribe_url', '')}>, {tpl.mailto}",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    if tpl.static_subject is None:
        out["subject"] = tpl.skeleton.compiled.subject.fill(values)
    if subs:
        out["substitutions"] = subs
    return out


@pytest.mark.parametrize("subject_slot", [True, False])
def test_requests_are_ascii_json_of_the_same_personalizations(
    make_settings: Callable[..., Settings], subject_slot: bool
) -> None:
    """Each personalization is written as JSON text when it is made; the request decodes
    to the personalizations built field by field, for names that need escaping in JSON
    or in HTML, beyond the BMP or empty, and it is ASCII (the client's UTF-8 is a copy)."""
    settings = make_settings(env={"SENDGRID_API_KEY": KEY})
    skeleton = MessageSkeleton(settings, sample_compiled(subject_slot), slug="2026-12-01-x")
    names = [
        "Zoë",
        '<Ann>&"Q" Smith',
        "",
        "Back\\slash \x01Ctl\x7f",
        "💄 Lipstick",
        "Line\u2028Sep Ünïcödé",
        "山田 太郎",
        "Reader 7",
    ]
    messages = []
    for i, name in enumerate(names * 3):
        email = f"reader{i}@example.org"
        values = recipient_values(settings, f"{i:032x}", email, name, 5, web="https://w/x")
        if i % 5 == 4:
            values["first_name"] = ""  # the slot's default
        messages.append(Outgoing(skeleton, email, values["name"], values, f"<{i}.a@x>", i))
    transport = SendgridTransport.from_settings(settings)
    transport.per_request = 10
    requests, failures = transport.build_payloads(messages)
    assert failures == {}
    tpl = transport.template(skeleton)
    assert [len(p.people) for _, p in requests] == [10, 10, 4]
    assert [i for indexes, _ in requests for i in indexes] == list(range(len(messages)))
    for indexes, payload in requests:
        body = request_body(payload)
        assert body.isascii()
        doc = json.loads(body)
        people = doc.pop("personalizations")
        assert doc == tpl.base
        assert people == [_dict_personalization(tpl, messages[i]) for i in indexes]
        half = payload.with_people(payload.people[:3])  # a 400 split regroups the texts
        assert json.loads(request_body(half))["personalizations"] == people[:3]


def test_text_that_is_not_unicode_fails_that_recipient_alone(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(env={"SENDGRID_API_KEY": KEY})
    skeleton = MessageSkeleton(settings, sample_compiled())
    messages = [
        Outgoing(
            skeleton,
            f"r{i}@example.org",
            name,
            recipient_values(settings, f"p{i}", f"r{i}@example.org", name, None),
            f"<{i}@x>",
            i,
        )
        for i, name in enumerate(["Ann", "Bad \ud800 surrogate", "Cy"])
    ]
    requests, failures = SendgridTransport.from_settings(settings).build_payloads(messages)
    assert [indexes for indexes, _ in requests] == [[0, 2]]
    assert list(failures) == [1]
    assert failures[1].outcome == "failed"
    assert failures[1].error is not None
    assert failures[1].error.startswith("the values for 'r1@example.org' cannot be written as")
