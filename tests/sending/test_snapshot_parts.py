"""A snapshot taken in two parts (PostgreSQL): sending starts on the first recipients while
the rest is added, and no edition is marked sent before its whole audience is in the
ledger; SQLite takes it in one transaction, as before."""

from __future__ import annotations

import mailbox
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select, update

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.sending import ledger
from pipeline.sending.editions import get_edition, transition
from pipeline.sending.engine import SendReport, send_claims, send_edition
from pipeline.sending.transports import get_transport
from pipeline.sending.workers import send_with_workers
from pipeline.store.tables import deliveries, editions, subscribers
from tests.sending.conftest import add_audience, make_edition


def _rows(engine: Engine, eid: int) -> list[int]:
    with engine.connect() as conn:
        query = select(deliveries.c.subscriber_id).where(deliveries.c.edition_id == eid)
        return sorted(conn.execute(query).scalars())


def test_the_first_part_then_the_rest_as_the_audience_is_then(
    settings: Settings, engine: Engine
) -> None:
    ids = add_audience(engine, 10)
    eid = make_edition(engine)
    clock = FixedClock()
    transition(engine, eid, ["frozen"], "sending")
    ledger.start_edition(engine, eid, ["beauty-tips"], clock.now(), "w", first_part=4)
    if engine.dialect.name != "postgresql":  # one transaction: the whole audience at once
        assert _rows(engine, eid) == ids
        assert not ledger.snapshot_incomplete(engine, eid)
        return
    assert _rows(engine, eid) == ids[:4]
    assert ledger.snapshot_incomplete(engine, eid)
    # Between the parts: one reader leaves, one joins; the rest is the audience of now.
    with engine.begin() as conn:
        conn.execute(
            update(subscribers).where(subscribers.c.id == ids[6]).values(status="unsubscribed")
        )
    late = add_audience(engine, 1, start=50)
    assert ledger.complete_snapshot(engine, eid) == 6 - 1 + 1
    assert _rows(engine, eid) == sorted([*ids[:6], *ids[7:], *late])
    assert not ledger.snapshot_incomplete(engine, eid)
    assert ledger.complete_snapshot(engine, eid) == 0  # once


def test_an_audience_the_first_part_holds_is_complete_at_once(engine: Engine) -> None:
    ids = add_audience(engine, 4)
    eid = make_edition(engine)
    transition(engine, eid, ["frozen"], "sending")
    ledger.start_edition(engine, eid, ["beauty-tips"], FixedClock().now(), "w", first_part=5)
    assert _rows(engine, eid) == ids
    assert not ledger.snapshot_incomplete(engine, eid)


def test_a_send_sends_both_parts_and_counts_them(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "FIRST_PART", 7)
    add_audience(engine, 60)
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.total, report.status) == (60, 60, "sent")
    assert len(list(mailbox.Maildir(settings.outbox_dir).keys())) == 60
    assert not ledger.snapshot_incomplete(engine, eid)


def test_a_run_that_runs_out_adds_the_rest_before_marking_it_sent(
    settings: Settings, engine: Engine
) -> None:
    """A crash after the first part (nobody added the rest): the next run claims the first
    part, finds nothing more, adds the rest and sends it; only then is the edition sent."""
    add_audience(engine, 25)
    eid = make_edition(engine)
    clock = FixedClock()
    transition(engine, eid, ["frozen"], "sending")
    ledger.start_edition(engine, eid, ["beauty-tips"], clock.now(), "w", first_part=10)
    edition = get_edition(engine, "2026-12-01-test")
    report = SendReport(eid, edition.slug)
    send_claims(settings, engine, edition, get_transport(settings), report, clock)
    assert report.sent == 25
    assert get_edition(engine, "2026-12-01-test").status == "sent"
    assert ledger.count_by_status(engine, eid)["sent"] == 25


def test_a_paused_edition_gets_the_rest_when_resumed(settings: Settings, engine: Engine) -> None:
    add_audience(engine, 12)
    eid = make_edition(engine)
    clock = FixedClock()
    transition(engine, eid, ["frozen"], "sending")
    ledger.start_edition(engine, eid, ["beauty-tips"], clock.now(), "w", first_part=5)
    transition(engine, eid, ["sending"], "paused", pause_reason="test")
    assert ledger.complete_snapshot(engine, eid) == 0  # not while paused
    if engine.dialect.name == "postgresql":
        assert len(_rows(engine, eid)) == 5
        with engine.connect() as conn:
            after = conn.execute(
                select(editions.c.snapshot_after).where(editions.c.id == eid)
            ).scalar()
        assert after is not None
    transition(engine, eid, ["paused"], "sending")
    report = send_edition(settings, engine, eid, clock=clock)
    assert (report.sent, report.status) == (12, "sent")


@pytest.mark.slow
def test_two_workers_share_both_parts_each_recipient_once(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parent takes the first part; the workers (forked) add the rest, one of them
    under the edition's lock, and claim from both: every reader exactly once."""
    monkeypatch.setattr(ledger, "FIRST_PART", 15)  # forked workers inherit it
    settings = make_settings(**{"database.url": db_url, "sending.batch_size": 10})
    add_audience(engine, 90)
    eid = make_edition(engine)
    report = send_with_workers(settings, eid, 2, clock=FixedClock(), poll=0.05)
    assert (report.sent, report.status) == (90, "sent")
    box = mailbox.Maildir(settings.outbox_dir)
    readers = Counter(str(message["To"]) for message in box)
    assert len(readers) == 90 and set(readers.values()) == {1}
    assert not ledger.snapshot_incomplete(engine, eid)
