"""Exports: CSV round trip (hypothesis), one list, a person's data, erasure."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from pipeline.config import Settings
from pipeline.errors import SubscriberError
from pipeline.store.tables import (
    deliveries,
    delivery_events,
    editions,
    subscribers,
    subscription_log,
    subscriptions,
    suppressions,
    utcnow,
)
from pipeline.subscribers.erasure import erase
from pipeline.subscribers.exporting import export_csv, export_person
from pipeline.subscribers.importing import import_subscribers
from pipeline.subscribers.service import (
    add_subscriber,
    get_subscriber,
    is_suppressed,
    suppress,
    sync_lists,
    unsubscribe,
)
from tests.subscribers.helpers import write

BOTH = ["beauty-tips", "news"]


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Engine:
    sync_lists(engine, settings)
    return engine


def _clear(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (subscription_log, subscriptions, subscribers, suppressions):
            conn.execute(delete(table))


def _export(engine: Engine, lists: list[str] | None = None) -> str:
    out = io.StringIO()
    export_csv(engine, out, lists)
    return out.getvalue()


names = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(',";\n'), max_size=30
).map(str.strip)
attributes = st.dictionaries(
    st.text("abcdefgh_", min_size=1, max_size=6),
    st.integers(-5, 5) | st.text(max_size=8) | st.booleans(),
    max_size=3,
)
people = st.lists(
    st.tuples(
        st.text("abcdefghij.", min_size=1, max_size=8).filter(
            lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
        ),
        names,
        attributes,
        st.sampled_from(["none", "news", "both", "unconfirmed", "left-news"]),
    ),
    max_size=5,
    unique_by=lambda p: p[0],
)


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people)
def test_export_then_import_gives_back_the_same_data(
    db: Engine, tmp_path: Path, data: list[tuple[str, str, dict[str, Any], str]]
) -> None:
    _clear(db)
    for local, name, attrs, shape in data:
        email = f"{local}@example.com"
        lists = {
            "none": [],
            "news": ["news"],
            "both": BOTH,
            "unconfirmed": ["beauty-tips"],
            "left-news": BOTH,
        }[shape]
        result = add_subscriber(
            db,
            email,
            name=name,
            lists=lists,
            method="web",
            consent_text="Yes, send me Glow Notes",
            ip="192.0.2.7",
            confirmed=shape != "unconfirmed",
            attributes=attrs,
        )
        if shape == "left-news":
            assert result.subscriber_id is not None
            unsubscribe(db, result.subscriber_id, ["news"], method="web")
    first = _export(db)
    _clear(db)
    path = write(tmp_path / "export.csv", first)
    report = import_subscribers(db, path)
    assert report.rejected == 0
    assert report.added == first.count("@example.com,")
    assert _export(db) == first


def test_export_one_list_and_suppressed_people(db: Engine, tmp_path: Path) -> None:
    add_subscriber(db, "a@example.com", name="A", lists=BOTH, method="cli", confirmed=True)
    add_subscriber(db, "b@example.com", lists=["beauty-tips"], method="cli", confirmed=True)
    sid = add_subscriber(
        db, "c@example.com", lists=["news"], method="cli", confirmed=True
    ).subscriber_id
    assert sid is not None
    unsubscribe(db, sid, method="web")
    text = _export(db, ["news"])
    lines = text.splitlines()
    assert lines[0] == (
        "email,name,list,status,consent_at,consent_method,consent_text,consent_ip,"
        "confirmed_at,confirm_ip,unsubscribed_at,subscriber_status,created_at,attributes"
    )
    assert [line.split(",")[:4] for line in lines[1:]] == [
        ["a@example.com", "A", "news", "confirmed"],
        ["c@example.com", "", "news", "unsubscribed"],
    ]
    assert lines[2].split(",")[11] == "unsubscribed"
    # Importing an export elsewhere keeps the unsubscribe (as a suppression).
    _clear(db)
    report = import_subscribers(db, write(tmp_path / "news.csv", text))
    assert (report.added, report.newly_suppressed) == (1, 1)
    assert is_suppressed(db, "c@example.com")


def _delivery(engine: Engine, subscriber_id: int, email: str) -> int:
    with engine.begin() as conn:
        edition = conn.execute(
            editions.insert().values(
                slug="2026-12-01-x",
                status="sent",
                subject="Hello",
                content_hash="0" * 64,
                lists=["news"],
                compiled=b"",
                web_html="",
            )
        ).inserted_primary_key
        assert edition is not None
        delivery = conn.execute(
            deliveries.insert().values(
                edition_id=edition[0],
                subscriber_id=subscriber_id,
                email=email,
                status="sent",
                sent_at=utcnow(),
            )
        ).inserted_primary_key
        assert delivery is not None
        conn.execute(
            delivery_events.insert().values(
                delivery_id=delivery[0],
                edition_id=edition[0],
                event="open",
                detail={"email": email},
                occurred_at=utcnow(),
            )
        )
        return int(delivery[0])


def test_export_data_and_erase(db: Engine) -> None:
    sid = add_subscriber(
        db,
        "Kim@Example.com",
        name="Kim Søberg",
        lists=BOTH,
        method="web",
        consent_text="Yes please",
        ip="192.0.2.5",
        confirmed=False,
        attributes={"city": "Oslo"},
    ).subscriber_id
    assert sid is not None
    delivery = _delivery(db, sid, "kim@example.com")
    data = export_person(db, "KIM@example.com")
    json.dumps(data)  # plain JSON
    assert data["email"] == "kim@example.com"
    assert data["subscriber"]["name"] == "Kim Søberg"
    assert data["subscriber"]["attributes"] == {"city": "Oslo"}
    assert [
        (s["list"], s["status"], s["consent_text"], s["consent_ip"]) for s in data["subscriptions"]
    ] == [
        ("beauty-tips", "unconfirmed", "Yes please", "192.0.2.5"),
        ("news", "unconfirmed", "Yes please", "192.0.2.5"),
    ]
    assert [h["action"] for h in data["history"]] == ["subscribe", "subscribe"]
    assert data["suppression"] is None
    assert [(d["edition"], d["status"]) for d in data["deliveries"]] == [("2026-12-01-x", "sent")]
    assert [e["event"] for e in data["delivery_events"]] == ["open"]

    report = erase(db, "kim@example.com")
    assert (report.found, report.subscriptions, report.log_entries, report.deliveries) == (
        True,
        2,
        2,
        1,
    )
    assert get_subscriber(db, email="kim@example.com") is None
    with db.connect() as conn:
        row = conn.execute(select(deliveries).where(deliveries.c.id == delivery)).one()
        event = conn.execute(select(delivery_events.c.detail)).scalar_one()
        dumped = [list(r) for r in conn.execute(select(suppressions)).all()]
    assert (row.email, row.subscriber_id, row.status) == ("erased", None, "sent")
    assert event == {}
    assert "kim" not in json.dumps(dumped, default=str).lower()
    data = export_person(db, "kim@example.com")
    assert data["subscriber"] is None and data["suppression"]["reason"] == "erased"
    # Erasing again is harmless; an erased address is never added again.
    assert erase(db, "kim@example.com").found is False
    assert add_subscriber(
        db, "kim@example.com", lists=["news"], method="cli", confirmed=True
    ).suppressed


def test_erase_overrides_other_suppressions(db: Engine) -> None:
    suppress(db, "z@example.com", "bounced")
    erase(db, "z@example.com")
    with db.connect() as conn:
        assert conn.execute(select(suppressions.c.reason)).scalars().all() == ["erased"]


def test_export_data_of_a_stranger(db: Engine) -> None:
    with pytest.raises(SubscriberError) as err:
        export_person(db, "Nobody@example.com")
    assert str(err.value) == "no data is held about nobody@example.com"
