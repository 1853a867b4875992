from __future__ import annotations

import email
import email.policy
import mailbox
from datetime import timedelta

from sqlalchemy import Engine, event, select, update

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.sending.editions import get_edition, transition
from pipeline.sending.engine import reclaim_in_flight, send_edition
from pipeline.sending.ledger import claim_batch, count_by_status, start_edition
from pipeline.sending.transports import get_transport
from pipeline.store.tables import deliveries, subscribers
from tests.sending.conftest import add_audience, make_edition


def test_sends_every_recipient_once_to_the_maildir(settings: Settings, engine: Engine) -> None:
    add_audience(engine, 120)
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.failed, report.status) == (120, 0, "sent"), report.pause_reason
    assert len(list(mailbox.Maildir(settings.outbox_dir).keys())) == 120
    assert count_by_status(engine, eid)["sent"] == 120
    again = send_edition(settings, engine, eid, clock=FixedClock())
    assert again.already_sent and again.sent == 0
    assert len(list(mailbox.Maildir(settings.outbox_dir).keys())) == 120
    assert get_edition(engine, "2026-12-01-test").status == "sent"


def test_snapshot_is_taken_once_and_late_unsubscribes_are_skipped(
    settings: Settings, engine: Engine
) -> None:
    ids = add_audience(engine, 10)
    eid = make_edition(engine)
    assert transition(engine, eid, ["frozen"], "sending")
    # Snapshot happens on the first call; simulate a claim by another worker first.
    from pipeline.sending.ledger import start_edition

    start_edition(engine, eid, ["beauty-tips"], FixedClock().now(), "w")
    add_audience(engine, 5, start=100)  # joined after the snapshot: not in this edition
    with engine.begin() as conn:
        conn.execute(
            update(subscribers).where(subscribers.c.id == ids[0]).values(status="unsubscribed")
        )
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.skipped) == (9, 1)
    with engine.connect() as conn:
        row = conn.execute(
            select(deliveries.c.status, deliveries.c.error).where(
                deliveries.c.subscriber_id == ids[0]
            )
        ).one()
    assert tuple(row) == ("skipped", "unsubscribed or suppressed")


def test_resume_reclaims_in_flight_rows(settings: Settings, engine: Engine) -> None:
    add_audience(engine, 30)
    eid = make_edition(engine)
    clock = FixedClock()
    transition(engine, eid, ["frozen"], "sending")
    from pipeline.sending.ledger import start_edition

    start_edition(engine, eid, ["beauty-tips"], clock.now(), "w")
    claimed = claim_batch(engine, eid, ["beauty-tips"], limit=7, claim_id="dead", now=clock.now())
    assert len(claimed) == 7
    # A second run leaves the crashed run's rows alone while their lease lasts.
    report = send_edition(settings, engine, eid, clock=clock)
    assert (report.sent, report.in_flight_elsewhere, report.status) == (23, 7, "sending")
    assert reclaim_in_flight(engine, eid, clock=clock) == 7
    report = send_edition(settings, engine, eid, clock=clock)
    assert (report.sent, report.status) == (7, "sent")


def test_expired_leases_are_reclaimed(settings: Settings, engine: Engine) -> None:
    add_audience(engine, 5)
    eid = make_edition(engine)
    clock = FixedClock()
    from pipeline.sending.ledger import start_edition

    start_edition(engine, eid, ["beauty-tips"], clock.now(), "w")
    claim_batch(engine, eid, ["beauty-tips"], limit=2, claim_id="dead", now=clock.now())
    clock.advance(timedelta(seconds=settings.sending.claim_lease_seconds + 1))
    report = send_edition(settings, engine, eid, clock=clock)
    assert (report.sent, report.status) == (5, "sent")


def test_several_workers_send_each_recipient_once(settings: Settings, engine: Engine) -> None:
    import threading
    from collections import Counter

    add_audience(engine, 300)
    eid = make_edition(engine)
    reports = []

    def work(name: str) -> None:
        reports.append(send_edition(settings, engine, eid, clock=FixedClock(), worker=name))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in reports) == 300
    box = mailbox.Maildir(settings.outbox_dir)
    copies = Counter(message["To"] for message in box)
    assert len(copies) == 300 and set(copies.values()) == {1}
    assert get_edition(engine, "2026-12-01-test").status == "sent"


def test_cancel_stops_a_running_send(settings: Settings, engine: Engine) -> None:
    from pipeline.sending.engine import SendReport

    add_audience(engine, 1200)
    eid = make_edition(engine)

    def cancel_after_first_batch(report: SendReport) -> None:
        transition(engine, eid, ["sending"], "cancelled")

    report = send_edition(
        settings, engine, eid, clock=FixedClock(), progress=cancel_after_first_batch
    )
    assert (report.sent, report.status) == (settings.sending.batch_size, "cancelled")


def test_a_name_with_a_line_break_fails_only_that_recipient(
    settings: Settings, engine: Engine
) -> None:
    add_audience(engine, 4, name=lambda i: "Eve\r\nBcc: all@example.org" if i == 2 else "Ann")
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.failed, report.status) == (3, 1, "sent")
    with engine.connect() as conn:
        error = conn.execute(
            select(deliveries.c.error).where(deliveries.c.email == "reader2@example.org")
        ).scalar_one()
    assert error == (
        "the name holds a line break and would reach a header "
        "(remove CR/LF characters from the subscriber's data)"
    )


def test_a_greeting_uses_the_given_name_where_one_is_known(
    settings: Settings, engine: Engine
) -> None:
    names = ["山田 太郎", "Lee Min-ji", "Ann Smith", ""]
    ids = add_audience(engine, 4, name=lambda i: names[i])
    with engine.begin() as conn:  # "First name" of an import, as _with_given_name keeps it
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == ids[1])
            .values(attributes={"given_name": "Min-ji"})
        )
    eid = make_edition(engine)
    assert send_edition(settings, engine, eid, clock=FixedClock()).sent == 4
    box = mailbox.Maildir(settings.outbox_dir, factory=None)
    subjects = sorted(
        str(email.message_from_bytes(box.get_bytes(k), policy=email.policy.default)["Subject"])
        for k in box.iterkeys()
    )
    assert subjects == [
        "Glow notes for Ann",
        "Glow notes for Min-ji",
        "Glow notes for you",
        "Glow notes for 山田 太郎",  # family name first: never "山田" alone
    ]


def test_an_import_keeps_the_first_name_column_as_the_given_name() -> None:
    from pipeline.subscribers.formats import detect_format

    plain = detect_format(["email", "first name", "last name"])
    entry = plain.convert({"email": "a@example.org", "first name": "Min-ji", "last name": "Lee"})
    assert (entry.name, entry.attributes) == ("Min-ji Lee", {"given_name": "Min-ji"})


def test_expired_claims_are_reclaimed_during_a_run_every_tenth_of_a_lease(
    settings: Settings, engine: Engine
) -> None:
    """A run reclaims expired claims when it starts and then every tenth of a lease, not
    between every two batches (the clock standing still: one reclaim statement for four
    batches). A claim that expires while the run goes on is still taken over: a dead
    run's 5 rows, claimed at the start, are sent by this run once their lease is over."""
    transport = get_transport(settings)
    transport.batch_size = 10  # batches of 10
    lease = timedelta(seconds=settings.sending.claim_lease_seconds)
    reclaims: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("UPDATE deliveries") and "claimed_at <" in statement:
            reclaims.append(statement)

    add_audience(engine, 40)
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, transport=transport, clock=FixedClock())
    assert (report.sent, report.status) == (40, "sent")
    assert len(reclaims) == 1  # five claims (the last one empty), one reclaim

    add_audience(engine, 35, start=100)
    eid = make_edition(engine, slug="2026-12-02-test")
    clock = FixedClock()
    transition(engine, eid, ["frozen"], "sending")
    start_edition(engine, eid, ["beauty-tips"], clock.now(), "w")
    dead = claim_batch(engine, eid, ["beauty-tips"], limit=5, claim_id="dead", now=clock.now())
    assert len(dead) == 5

    def later(_: object) -> None:  # after each batch: half a lease goes by
        clock.advance(lease / 2)

    report = send_edition(settings, engine, eid, transport=transport, clock=clock, progress=later)
    assert (report.sent, report.in_flight_elsewhere, report.status) == (75, 0, "sent")
    assert len(reclaims) > 2  # the clock moved: reclaimed again during the run
    assert count_by_status(engine, eid)["sent"] == 75


def test_the_status_read_between_hand_offs_holds_no_transaction(
    settings: Settings, engine: Engine
) -> None:
    """On PostgreSQL the edition's state is read in autocommit (one round trip, no
    transaction left open between two hand-offs), and the connection goes back to the
    pool as it came (autocommit off); a broken one is not given back."""
    from pipeline.sending.engine import _StatusReader

    add_audience(engine, 1)
    eid = make_edition(engine)
    reader = _StatusReader(engine, eid)
    assert reader() == "frozen"
    transition(engine, eid, ["frozen"], "sending")
    assert reader() == "sending"
    raw = reader.raw
    assert raw is not None
    if engine.dialect.name == "postgresql":
        from psycopg.pq import TransactionStatus

        driver = raw.driver_connection
        assert driver.info.transaction_status == TransactionStatus.IDLE
        assert driver.autocommit is True
        reader.close()
        assert not driver.closed and driver.autocommit is False  # pooled again, as it came
        reader = _StatusReader(engine, eid)
        assert reader() == "sending"
        driver = reader.raw.driver_connection
        reader.close(broken=True)
        assert driver.closed  # a broken connection is dropped, not pooled
    reader.close()
