"""Recording hits: prefetch, honeypot and burst need the delivery's history; events are
deduplicated; nothing identifying the request is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select

from pipeline.config import Settings
from pipeline.render.personalise import compile_edition
from pipeline.sending.editions import store_edition
from pipeline.store.tables import deliveries, delivery_events, subscribers
from pipeline.tracking.classify import HUMAN, Verdict
from pipeline.tracking.consent import set_tracking
from pipeline.tracking.links import Link
from pipeline.tracking.record import Hit, Recorder, write_hits

SENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def edition_with(engine: Engine, people: int) -> tuple[int, list[int]]:
    """An edition with links 0..3 and ``people`` deliveries sent at SENT."""
    links = [Link(0, "https://n.example/", "", "honeypot")] + [
        Link(i, f"https://shop.example/{i}", f"Link {i}") for i in (1, 2, 3)
    ]
    eid = store_edition(
        engine,
        "2026-12-01-t",
        compile_edition("S", "<p>x</p>", "x"),
        lists=["beauty-tips"],
        content_hash="0" * 64,
        links=links,
    )
    ids = []
    with engine.begin() as conn:
        for i in range(people):
            sid = conn.execute(
                insert(subscribers).values(
                    email=f"p{i}@example.org",
                    name="",
                    attributes={},
                    status="active",
                    created_at=SENT,
                    updated_at=SENT,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(
                insert(deliveries).values(
                    edition_id=eid,
                    subscriber_id=sid,
                    email=f"p{i}@example.org",
                    status="sent",
                    sent_at=SENT,
                    updated_at=SENT,
                )
            )
            ids.append(int(sid))
    return eid, ids


def events(engine: Engine) -> list[tuple[str, int | None, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(delivery_events).order_by(delivery_events.c.occurred_at, delivery_events.c.id)
        ).all()
    return [(r.event, r.link_index, r.verdict, r.reason) for r in rows]


def click(eid: int, sid: int, index: int, seconds: float, verdict: Verdict = HUMAN) -> Hit:
    return Hit("click", sid, eid, index, SENT + timedelta(seconds=seconds), verdict)


def test_prefetched_opens_are_machine(settings: Settings, engine: Engine) -> None:
    eid, (ann, bob) = edition_with(engine, 2)
    hits = [
        Hit("open", ann, eid, None, SENT + timedelta(seconds=5), HUMAN),
        Hit("open", bob, eid, None, SENT + timedelta(minutes=40), HUMAN),
    ]
    assert write_hits(settings, engine, hits) == 2
    assert events(engine) == [("open", None, "machine", "prefetch"), ("open", None, "human", None)]


def test_a_burst_of_clicks_is_machine_even_across_batches(
    settings: Settings, engine: Engine
) -> None:
    eid, (ann, bob) = edition_with(engine, 2)
    write_hits(settings, engine, [click(eid, ann, 1, 600)])  # stored first, as human
    write_hits(settings, engine, [click(eid, ann, 2, 600.8), click(eid, bob, 1, 900)])
    write_hits(settings, engine, [click(eid, bob, 2, 960)])  # a minute later: a person
    assert events(engine) == [
        ("click", 1, "machine", "burst"),
        ("click", 2, "machine", "burst"),
        ("click", 1, "human", None),
        ("click", 2, "human", None),
    ]


def test_the_honeypot_marks_the_scan(settings: Settings, engine: Engine) -> None:
    eid, (ann,) = edition_with(engine, 1)
    write_hits(settings, engine, [click(eid, ann, 3, 100)])
    write_hits(settings, engine, [click(eid, ann, 0, 110)])
    assert events(engine) == [
        ("click", 3, "machine", "honeypot"),
        ("click", 0, "machine", "honeypot"),
    ]


def test_repeats_are_stored_once_and_the_request_is_not_stored(
    settings: Settings, engine: Engine
) -> None:
    eid, (ann,) = edition_with(engine, 1)
    same = click(eid, ann, 1, 1000)
    assert write_hits(settings, engine, [same, same]) == 1
    assert write_hits(settings, engine, [same]) == 0
    with engine.connect() as conn:
        row = conn.execute(select(delivery_events)).one()
    assert row.detail == {} and row.source == "tracking"
    assert row.provider_event_id.startswith("t:click:")


def test_the_recorder_writes_queued_hits_once(settings: Settings, engine: Engine) -> None:
    eid, (ann,) = edition_with(engine, 1)
    recorder = Recorder(settings, engine)
    recorder.add(click(eid, ann, 1, 1000))
    assert recorder.pending == 1
    assert recorder.flush() == 1
    assert recorder.pending == 0 and recorder.flush() == 0
    assert events(engine) == [("click", 1, "human", None)]


def test_nothing_is_stored_for_a_person_who_turned_tracking_off(
    settings: Settings, engine: Engine
) -> None:
    eid, (ann, bob) = edition_with(engine, 2)
    set_tracking(engine, ann, False)  # after the send: old links still redirect
    hits = [click(eid, ann, 1, 1000), click(eid, bob, 1, 1000), click(eid, 999, 1, 1000)]
    assert write_hits(settings, engine, hits) == 1  # Bob's; none for Ann or a stranger
