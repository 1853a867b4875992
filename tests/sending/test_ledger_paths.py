"""Ledger paths the other sending tests do not reach: a transport that fails mid-send gives
its claim back, cancelling the pending rows, refusing to send a paused, cancelled or missed
edition, and waiting (with the injected sleep) for retries that are not yet due."""

from __future__ import annotations

import mailbox
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.errors import SendError, TransportError
from pipeline.sending.editions import transition
from pipeline.sending.engine import backoff_delay, send_edition
from pipeline.sending.ledger import (
    _RECORD_POSTGRESQL,
    Outcome,
    _record_sql,
    cancel_pending,
    claim_batch,
    close_writer,
    complete_snapshot,
    count_by_status,
    record_outcomes,
    renew_claim,
    snapshot_audience,
    start_edition,
    writer_connection,
)
from pipeline.sending.transports.sendgrid import SendgridTransport
from pipeline.store.tables import deliveries
from tests.sending.conftest import SendgridStandIn, add_audience, make_edition

KEY = "SG.test-key"


def sendgrid_settings(
    make: Callable[..., Settings], db_url: str, api: SendgridStandIn, **more: object
) -> Settings:
    return make(
        env={"SENDGRID_API_KEY": KEY},
        **{
            "database.url": db_url,
            "sending.transport": "sendgrid",
            "sendgrid.host": api.url,
            "sendgrid.asm_group_id": 42,
            "sending.pause_min_sample": 10_000,
            **more,
        },
    )


def transport(settings: Settings) -> SendgridTransport:
    chosen = SendgridTransport.from_settings(settings)
    chosen.sleep = lambda seconds: None  # its own 429/5xx waits are tested in test_sendgrid
    chosen.now = lambda: 1_800_000_000.0
    return chosen


def rows(engine: Engine, eid: int) -> list[tuple[str, int, str | None]]:
    with engine.connect() as conn:
        return [
            (r.status, r.attempts, r.claim_id)
            for r in conn.execute(
                select(deliveries.c.status, deliveries.c.attempts, deliveries.c.claim_id)
                .where(deliveries.c.edition_id == eid)
                .order_by(deliveries.c.id)
            )
        ]


def test_a_transport_failing_mid_send_gives_its_claim_back(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    settings = sendgrid_settings(
        make_settings,
        db_url,
        sendgrid_api,
        **{"sendgrid.batch_size": 100, "sendgrid.concurrency": 1},
    )
    add_audience(engine, 250)
    eid = make_edition(engine)
    sendgrid_api.script = [(202, {}), (401, {})]  # the key is revoked after the first batch
    with pytest.raises(TransportError) as err:
        send_edition(settings, engine, eid, clock=FixedClock(), transport=transport(settings))
    assert str(err.value).startswith("SendGrid refused the API key (401: ")
    left = rows(engine, eid)
    assert [r for r in left if r[0] == "sent"] == [("sent", 1, r[2]) for r in left[:100]]
    # The failed claim is pending again, untouched: no claim id, the attempt not counted.
    assert left[100:] == [("pending", 0, None)] * 150
    assert count_by_status(engine, eid)["in_flight"] == 0
    again = send_edition(settings, engine, eid, clock=FixedClock(), transport=transport(settings))
    assert (again.sent, again.status) == (150, "sent")
    emails = [p["to"][0]["email"] for p in sendgrid_api.accepted]
    assert len(emails) == 250 and len(set(emails)) == 250


def test_cancel_pending_leaves_rows_in_flight_and_sent_alone(
    settings: Settings, engine: Engine
) -> None:
    add_audience(engine, 10)
    eid = make_edition(engine)
    clock = FixedClock()
    start_edition(engine, eid, ["beauty-tips"], clock.now(), "w")
    claimed = claim_batch(engine, eid, ["beauty-tips"], limit=3, claim_id="c1", now=clock.now())
    assert len(claimed) == 3
    assert cancel_pending(engine, eid, clock.now()) == 7
    counts = count_by_status(engine, eid)
    assert (counts["in_flight"], counts["cancelled"], counts["pending"]) == (3, 7, 0)
    assert cancel_pending(engine, eid, clock.now()) == 0


@pytest.mark.parametrize(
    ("path", "message", "fix"),
    [
        (
            (["frozen"], "sending", ["sending"], "paused"),
            "edition '2026-12-01-test' is paused: 3 of 10 attempts failed",
            "run 'newsletter issue resume 2026-12-01-test' when the cause is fixed",
        ),
        (
            (["frozen"], "cancelled"),
            "edition '2026-12-01-test' is cancelled",
            "a cancelled edition is never sent; copy the issue to a new slug",
        ),
        (
            (["frozen"], "scheduled", ["scheduled"], "missed"),
            "edition '2026-12-01-test' is missed",
            "schedule it again: 'newsletter issue schedule 2026-12-01-test --at ...'",
        ),
    ],
)
def test_paused_cancelled_and_missed_editions_are_not_sent(
    settings: Settings, engine: Engine, path: tuple[object, ...], message: str, fix: str
) -> None:
    add_audience(engine, 5)
    eid = make_edition(engine)
    for start in range(0, len(path), 2):
        froms, to = path[start], path[start + 1]
        assert isinstance(froms, list) and isinstance(to, str)
        extra = {"pause_reason": "3 of 10 attempts failed"} if to == "paused" else {}
        assert transition(engine, eid, froms, to, **extra)
    with pytest.raises(SendError) as err:
        send_edition(settings, engine, eid, clock=FixedClock())
    assert (err.value.what, err.value.fix) == (message, fix)
    assert rows(engine, eid) == []  # no ledger snapshot was taken
    assert not settings.outbox_dir.exists() or len(mailbox.Maildir(settings.outbox_dir)) == 0


def test_a_retry_not_yet_due_is_waited_for_with_the_injected_sleep(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    settings = sendgrid_settings(
        make_settings, db_url, sendgrid_api, **{"sending.backoff_base": 30.0}
    )
    add_audience(engine, 1)
    eid = make_edition(engine)
    sendgrid_api.script = [(500, {})] * 4  # one attempt of the engine: the request and retries
    clock = FixedClock()
    start = clock.now()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        assert len(sleeps) < 10, "the engine keeps waiting"
        clock.advance(timedelta(seconds=seconds))

    report = send_edition(
        settings,
        engine,
        eid,
        clock=clock,
        transport=transport(settings),
        sleep=sleep,
        rng=random.Random(7),
    )
    delay = backoff_delay(settings, 1, random.Random(7))
    assert 15.0 <= delay <= 30.0
    assert sleeps == [pytest.approx(delay, abs=1e-3)]
    assert (report.retried, report.sent, report.status) == (1, 1, "sent")
    assert clock.now() - start == timedelta(seconds=sleeps[0])
    assert len(sendgrid_api.requests) == 5


def _started(engine: Engine, audience: int) -> tuple[int, datetime]:
    """An edition being sent to ``audience`` readers (its ledger snapshot taken: both parts
    on PostgreSQL, then ANALYZE), and when."""
    eid = make_edition(engine)
    add_audience(engine, audience)
    now = FixedClock().now()
    start_edition(engine, eid, ["beauty-tips"], now, "test")
    complete_snapshot(engine, eid)
    return eid, now


def test_results_are_written_in_one_statement_that_leaves_the_connection_as_it_was(
    engine: Engine,
) -> None:
    """record_outcomes on the writer's connection (autocommit on PostgreSQL: one statement,
    its own transaction, planned once) and on an ordinary one: the rows are written, the
    WAL wait it turns off for its own transaction (set_config(..., true)) is on again
    afterwards, and the writer's generic plans end with it (close_writer)."""
    eid, now = _started(engine, 6)
    claimed = claim_batch(engine, eid, ["beauty-tips"], limit=6, claim_id="c1", now=now)
    outcomes = [Outcome(r.id, "sent", message_id=f"<m{r.id}@x>") for r in claimed]
    writer = writer_connection(engine)
    raw = writer.connection.dbapi_connection
    try:
        assert record_outcomes(writer, "c1", outcomes[:3], now) == 3
        if engine.dialect.name == "postgresql":
            assert writer.connection.dbapi_connection.autocommit  # type: ignore[union-attr]
            setting = writer.exec_driver_sql("SHOW synchronous_commit").scalar_one()
            assert setting == "on"
            assert writer.exec_driver_sql("SHOW plan_cache_mode").scalar_one() == (
                "force_generic_plan"
            )
    finally:
        close_writer(writer)
    with engine.connect() as conn:
        assert record_outcomes(conn, "c1", outcomes[3:], now) == 3
        if engine.dialect.name == "postgresql":
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
            assert conn.connection.dbapi_connection is raw  # the writer's, back in the pool
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one() == "auto"
    assert count_by_status(engine, eid)["sent"] == 6


def test_a_writer_that_failed_is_discarded_not_pooled(engine: Engine) -> None:
    """close_writer(failed=True): the connection is not handed out again (its state is
    unknown); the next connection is a new one, with the default settings."""
    writer = writer_connection(engine)
    raw = writer.connection.dbapi_connection
    close_writer(writer, failed=True)
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection is not raw
        if engine.dialect.name == "postgresql":
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one() == "auto"


def test_answers_written_by_the_fast_path_read_back_as_written(engine: Engine) -> None:
    """record_outcomes binds its values itself (driver SQL compiled once): what it stores
    reads back through SQLAlchemy as the same instants (to the microsecond) and the same
    text (quotes, backslashes, line breaks and non-ASCII included: PostgreSQL's answers
    travel as JSON), a retry becomes claimable exactly at its time, and a row another
    claim holds is left alone."""
    eid, now = _started(engine, 3)
    claimed = claim_batch(engine, eid, ["beauty-tips"], limit=3, claim_id="c1", now=now)
    later = now + timedelta(minutes=10, microseconds=123457)
    refusal = 'SMTP 550 5.1.1 "unknown" \\ Zoë\n<ann@example.org>'
    outcomes = [
        Outcome(claimed[0].id, "sent", message_id="<m@x>", provider_id="SMTP 250 2.0.0 Ok"),
        Outcome(claimed[1].id, "pending", error="SMTP 451 4.3.0 later", next_attempt_at=later),
        Outcome(claimed[2].id, "failed", error=refusal),
    ]
    with engine.connect() as conn:
        assert record_outcomes(conn, "other-claim", outcomes, now) == 0  # not ours
        assert record_outcomes(conn, "c1", outcomes, now) == 3
    with engine.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                select(
                    deliveries.c.id,
                    deliveries.c.status,
                    deliveries.c.sent_at,
                    deliveries.c.updated_at,
                    deliveries.c.next_attempt_at,
                    deliveries.c.claim_id,
                    deliveries.c.provider_id,
                    deliveries.c.error,
                )
            )
        }
    sent, retry, failed = (rows[o.delivery_id] for o in outcomes)
    assert (sent.status, sent.sent_at, sent.updated_at) == ("sent", now, now)
    assert sent.provider_id == "SMTP 250 2.0.0 Ok" and sent.claim_id is None
    assert (retry.status, retry.next_attempt_at, retry.sent_at) == ("pending", later, None)
    assert (failed.status, failed.error) == ("failed", refusal)
    early = now + timedelta(minutes=9, seconds=59)
    assert claim_batch(engine, eid, ["beauty-tips"], limit=3, claim_id="c2", now=early) == []
    again = claim_batch(engine, eid, ["beauty-tips"], limit=3, claim_id="c3", now=later)
    assert [r.id for r in again] == [retry.id]


def test_a_claim_reads_on_from_the_last_id_a_run_claimed(engine: Engine) -> None:
    """claim_batch(after=N) takes only rows above N, in id order (a long send never walks
    back over the rows already sent); after=0 takes from the start again."""
    eid, now = _started(engine, 10)
    first = claim_batch(engine, eid, ["beauty-tips"], limit=4, claim_id="c1", now=now)
    ids = [r.id for r in first]
    assert ids == sorted(ids)
    later = claim_batch(
        engine, eid, ["beauty-tips"], limit=100, claim_id="c2", now=now, after=ids[-1] + 2
    )
    assert all(r.id > ids[-1] + 2 for r in later) and len(later) == 4
    rest = claim_batch(engine, eid, ["beauty-tips"], limit=100, claim_id="c3", now=now)
    assert [r.id for r in rest] == [ids[-1] + 1, ids[-1] + 2]  # the two skipped, from 0


def test_the_heartbeat_skips_rows_being_written_instead_of_waiting(engine: Engine) -> None:
    """renew_claim renews the claim's rows but those another transaction has locked (on
    PostgreSQL: the answers' writer, mid-write); waiting for them, in another lock order
    than the writer's, was a deadlock. It returns at once with the rows it renewed."""
    eid, now = _started(engine, 3)
    claimed = claim_batch(engine, eid, ["beauty-tips"], limit=3, claim_id="c1", now=now)
    later = now + timedelta(minutes=2)
    if engine.dialect.name == "postgresql":
        with engine.connect() as writer, writer.begin():
            writer.execute(  # the writer holds the first row
                select(deliveries.c.id).where(deliveries.c.id == claimed[0].id).with_for_update()
            ).all()
            assert renew_claim(engine, "c1", later, eid) == 2
        renewed = {claimed[1].id, claimed[2].id}
    else:  # one writer at a time: nothing is locked when the heartbeat runs
        assert renew_claim(engine, "c1", later, eid) == 3
        renewed = {r.id for r in claimed}
    with engine.connect() as conn:
        stamps = dict(conn.execute(select(deliveries.c.id, deliveries.c.claimed_at)).all())
    assert {i for i, at in stamps.items() if at == later} == renewed
    assert renew_claim(engine, "other", later, eid) == 0


def test_the_snapshot_inserts_plainly_into_an_empty_ledger_and_skips_rows_already_there(
    engine: Engine,
) -> None:
    """snapshot_audience(empty=True), as start_edition calls it when the edition has no
    rows yet: every reader once. Without it (rows may be there): the rows already there
    are left as they are and only the missing ones are added. And the unique constraint
    still refuses a duplicate if a caller claimed the ledger was empty when it was not."""
    eid = make_edition(engine)
    ids = add_audience(engine, 5)
    with engine.begin() as conn:
        assert snapshot_audience(conn, eid, ["beauty-tips"], empty=True) == 5
    now = FixedClock().now()
    taken = claim_batch(engine, eid, ["beauty-tips"], limit=2, claim_id="c1", now=now)
    assert [r.subscriber_id for r in taken] == ids[:2]
    more = add_audience(engine, 2, start=5)
    with engine.begin() as conn:
        assert snapshot_audience(conn, eid, ["beauty-tips"]) == 2  # only the new readers
    counts = count_by_status(engine, eid)
    assert (counts["in_flight"], counts["pending"]) == (2, 5)  # the claimed rows untouched
    with engine.connect() as conn:
        held = conn.execute(
            select(deliveries.c.subscriber_id).where(deliveries.c.claim_id == "c1")
        ).scalars()
        assert sorted(held) == ids[:2]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        snapshot_audience(conn, eid, ["beauty-tips"], empty=True)
    assert sum(count_by_status(engine, eid).values()) == len(ids) + len(more)


def test_the_answer_write_finds_its_rows_by_key_whatever_the_statistics(
    engine: Engine,
) -> None:
    """The statement that writes answers, planned as the writer plans it: once, for any
    rows (PostgreSQL: a generic plan; statistics taken when no row was claimed, which make
    a scan of the ledger look cheap). It must reach the rows by their key, never by
    reading the whole ledger at every write."""
    _started(engine, 5000)  # the snapshot, then ANALYZE on PostgreSQL
    writer = writer_connection(engine)
    try:
        if engine.dialect.name == "postgresql":
            sql = (
                _RECORD_POSTGRESQL.replace("%(now)s", "$1")
                .replace("%(ids)s", "$2")
                .replace("%(rows)s", "$3")
                .replace("%(claim)s", "$4")
            )
            writer.exec_driver_sql(f"PREPARE answers (timestamptz, integer[], json, text) AS {sql}")
            plan = "\n".join(
                writer.exec_driver_sql(
                    "EXPLAIN EXECUTE answers (now(), '{1,2}', '[{\"i\": 1, \"s\": \"sent\"}]', 'c')"
                ).scalars()
            )
            writer.exec_driver_sql("DEALLOCATE answers")
            assert "Seq Scan on deliveries" not in plan, plan
            assert "Index Scan using pk_deliveries on deliveries" in plan, plan
        else:
            sql, names = _record_sql(engine.dialect)
            row = tuple(None for _ in names or ())
            plan = " ".join(
                str(r[-1]) for r in writer.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", row)
            )
            assert "SEARCH deliveries USING INTEGER PRIMARY KEY" in plan, plan
    finally:
        close_writer(writer)


def test_a_relay_reply_with_a_nul_character_is_written_not_refused(engine: Engine) -> None:
    """A reply holding NUL (which PostgreSQL's text cannot store) is written with U+FFFD
    in its place, and the other answers of the same write with it: otherwise the write
    failed at every retry and stopped the send."""
    eid, now = _started(engine, 2)
    claimed = claim_batch(engine, eid, ["beauty-tips"], limit=2, claim_id="c1", now=now)
    outcomes = [
        Outcome(claimed[0].id, "failed", error="SMTP 550 5.1.1 no\x00such user"),
        Outcome(claimed[1].id, "sent", message_id="<m@x>", provider_id="SMTP 250 ok\x00"),
    ]
    writer = writer_connection(engine)
    try:
        assert record_outcomes(writer, "c1", outcomes, now) == 2
    finally:
        close_writer(writer)
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.status, deliveries.c.error, deliveries.c.provider_id).order_by(
                deliveries.c.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("failed", "SMTP 550 5.1.1 no\ufffdsuch user", None),
        ("sent", None, "SMTP 250 ok\ufffd"),
    ]
