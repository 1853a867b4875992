"""The fault campaign, in process: international addresses, a SendGrid 400 caused by one
recipient, lost answers, a relay that never greets, a transport that raises, a killed
database connection while results are recorded. Real SMTP (aiosmtpd) and the SendGrid
stand-in validating every request against the contract (formats included)."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.sending.editions import get_edition
from pipeline.sending.engine import send_edition
from pipeline.sending.ledger import count_by_status
from pipeline.sending.retrying import retry_failed
from pipeline.sending.transports.base import OnResults, Outgoing, Result
from pipeline.sending.transports.maildir import MaildirTransport
from pipeline.store.tables import deliveries
from tests.sending.conftest import (
    SendgridStandIn,
    SmtpServer,
    add_audience,
    make_edition,
    serve_smtp,
)

KEY = "SG.test-key"
IDN = "kunde@bücher.example.org"
IDN_WIRE = "kunde@xn--bcher-kva.example.org"
UTF8_LOCAL = "jürgen@example.de"


@pytest.fixture(params=["pipelining", "lock-step"])
def smtp_server(request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    """Each test against a relay offering PIPELINING (commands written together) and
    against one that does not (each command after the previous answer)."""
    yield from serve_smtp(pipelining=request.param == "pipelining")


def _international(i: int) -> str:
    return {3: IDN, 7: UTF8_LOCAL}.get(i, f"reader{i}@example.org")


def _rows(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        return {
            r.email: (r.status, r.error)
            for r in conn.execute(
                select(deliveries.c.email, deliveries.c.status, deliveries.c.error)
            )
        }


def _smtp(make: Callable[..., Settings], db_url: str, port: int, **more: object) -> Settings:
    return make(
        **{
            "database.url": db_url,
            "sending.transport": "smtp",
            "smtp.host": "127.0.0.1",
            "smtp.port": port,
            "smtp.connections": 4,
            "sending.backoff_base": 0.0,
            "sending.batch_size": 50,
            **more,
        }
    )


def _sendgrid(
    make: Callable[..., Settings], db_url: str, api: SendgridStandIn, **more: object
) -> Settings:
    return make(
        env={"SENDGRID_API_KEY": KEY},
        **{
            "database.url": db_url,
            "sending.transport": "sendgrid",
            "sendgrid.host": api.url,
            "sending.backoff_base": 0.0,
            "sending.pause_min_sample": 10_000,
            **more,
        },
    )


# ---- 1. international addresses --------------------------------------------------------
def test_international_addresses_go_out_over_smtputf8(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    smtp_server: SmtpServer,
) -> None:
    settings = _smtp(make_settings, db_url, smtp_server.port)
    add_audience(engine, 10, email=_international)
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.failed, report.status) == (10, 0, "sent")
    accepted = Counter(rcpt for rcpt, _ in smtp_server.handler.accepted)
    assert accepted[IDN_WIRE] == 1 and accepted[UTF8_LOCAL] == 1 and len(accepted) == 10
    # Only the UTF-8 local part needed SMTPUTF8; the IDN domain went as punycode.
    assert smtp_server.handler.smtputf8 == [UTF8_LOCAL]
    assert set(_rows(engine)) >= {IDN, UTF8_LOCAL}  # the ledger keeps the address as given


def test_a_utf8_local_part_fails_alone_on_a_relay_without_smtputf8(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    ascii_smtp_server: SmtpServer,
) -> None:
    settings = _smtp(make_settings, db_url, ascii_smtp_server.port)
    add_audience(engine, 10, email=_international)
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.failed, report.status) == (9, 1, "sent")
    status, error = _rows(engine)[UTF8_LOCAL]
    assert status == "failed"
    assert error == (
        f"the address {UTF8_LOCAL!r} has non-ASCII characters before the @ and the SMTP "
        f"server 127.0.0.1:{ascii_smtp_server.port} does not offer SMTPUTF8; use a relay that "
        "offers it, or ask the subscriber for an ASCII address"
    )
    assert Counter(r for r, _ in ascii_smtp_server.handler.accepted)[IDN_WIRE] == 1
    assert count_by_status(engine, eid)["in_flight"] == 0


def test_sendgrid_gets_punycode_and_fails_a_utf8_local_part_alone(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    settings = _sendgrid(make_settings, db_url, sendgrid_api)
    add_audience(engine, 10, email=_international)
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert sendgrid_api.violations == []
    assert (report.sent, report.failed, report.status) == (9, 1, "sent")
    sent_to = [p["to"][0]["email"] for p in sendgrid_api.accepted]
    assert IDN_WIRE in sent_to and UTF8_LOCAL not in sent_to
    status, error = _rows(engine)[UTF8_LOCAL]
    assert status == "failed" and error is not None
    assert error.startswith(f"SendGrid does not accept {UTF8_LOCAL!r}")


# ---- 3. one bad recipient never fails a thousand ---------------------------------------
@pytest.mark.parametrize("name_field", [True, False], ids=["named", "bisected"])
def test_a_sendgrid_400_for_one_recipient_fails_only_that_one(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
    name_field: bool,
) -> None:
    settings = _sendgrid(make_settings, db_url, sendgrid_api, **{"sendgrid.concurrency": 1})
    add_audience(engine, 1000)
    sendgrid_api.refuse = {"reader417@example.org"}
    sendgrid_api.name_field = name_field
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert sendgrid_api.violations == []
    assert (report.sent, report.failed, report.status) == (999, 1, "sent")
    status, error = _rows(engine)["reader417@example.org"]
    assert status == "failed"
    assert error == (
        "SendGrid 400: Does not contain a valid address. (SendGrid rejected this recipient)"
    )
    sizes = [len(r["personalizations"]) for r in sendgrid_api.requests]
    if name_field:  # the named one fails, the 999 others go at once
        assert sizes == [1000, 999]
    else:  # halves until the bad one is alone: 1 + 2 per level
        assert sizes[0] == 1000 and len(sizes) <= 1 + 2 * 10 and 1 in sizes
    assert len({p["to"][0]["email"] for p in sendgrid_api.accepted}) == 999
    # retry-failed sends the one failed row alone: never the 1,000-recipient request again
    before = len(sendgrid_api.requests)
    assert retry_failed(engine, get_edition(engine, "2026-12-01-test").slug) == 1
    again = send_edition(settings, engine, eid, clock=FixedClock())
    assert [len(r["personalizations"]) for r in sendgrid_api.requests[before:]] == [1]
    assert (again.sent, again.failed, again.status) == (0, 1, "sent")


def test_a_400_about_the_request_fails_it_without_splitting(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    settings = _sendgrid(make_settings, db_url, sendgrid_api)
    add_audience(engine, 40)
    sendgrid_api.script = [(400, {})]  # "The from address does not match a verified ..."
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert report.failed == 40 and len(sendgrid_api.requests) == 1


# ---- 4. answers that never came --------------------------------------------------------
def test_a_lost_sendgrid_reply_makes_its_recipients_uncertain(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    settings = _sendgrid(make_settings, db_url, sendgrid_api)
    add_audience(engine, 10)
    sendgrid_api.lose_replies = 1
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.uncertain, report.status) == (0, 10, "sent")
    assert len(sendgrid_api.requests) == 1  # not repeated: SendGrid had accepted it
    counts = count_by_status(engine, eid)
    assert (counts["uncertain"], counts["pending"], counts["in_flight"]) == (10, 0, 0)
    _status, error = _rows(engine)["reader0@example.org"]
    assert error is not None and error.startswith("SendGrid's answer never came")
    # The operator may send them again, knowingly.
    assert retry_failed(engine, "2026-12-01-test") == 0
    assert retry_failed(engine, "2026-12-01-test", uncertain=True) == 10


def test_a_stalled_data_answer_is_uncertain(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, smtp_server: SmtpServer
) -> None:
    settings = _smtp(make_settings, db_url, smtp_server.port, **{"smtp.timeout": 0.3})
    smtp_server.handler.script = ["stall"]
    add_audience(engine, 8)
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.uncertain) == (7, 1)
    uncertain = [e for e, (s, _) in _rows(engine).items() if s == "uncertain"]
    assert len(uncertain) == 1


@pytest.fixture
def silent_relay() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server that accepts connections and never says a word (no SMTP greeting)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_relay_that_never_greets_costs_one_timeout_per_batch(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    silent_relay: tuple[int, list[socket.socket]],
) -> None:
    port, connections = silent_relay
    settings = _smtp(
        make_settings,
        db_url,
        port,
        **{
            "smtp.timeout": 0.3,
            "sending.max_attempts": 1,
            "sending.batch_size": 40,
            "sending.pause_min_sample": 1000,
        },
    )
    add_audience(engine, 40)
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert report.failed == 40
    # One connection attempt per pool thread, not one per message (40 x the timeout).
    assert len(connections) <= 4
    _status, error = _rows(engine)["reader0@example.org"]
    assert error is not None and error.startswith(
        f"gave up after 1 attempts: cannot connect to 127.0.0.1:{port}"
    )


# ---- 1/4. a transport that raises ------------------------------------------------------
class _Exploding(MaildirTransport):
    """A real Maildir that raises an unexpected error at its fifth message."""

    def send_batch(
        self, messages: Sequence[Outgoing], on_results: OnResults | None = None
    ) -> list[Result]:
        done = super().send_batch(messages[:4], on_results)
        raise RuntimeError(f"disk on fire after {len(done)} messages")


def test_an_exception_in_a_transport_pauses_with_the_reason_and_leaves_nothing_in_flight(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    add_audience(engine, 30)
    eid = make_edition(engine)
    report = send_edition(
        settings, engine, eid, clock=FixedClock(), transport=_Exploding(tmp_path / "box")
    )
    assert report.status == "paused"
    assert report.pause_reason == (
        "the maildir transport failed: RuntimeError: disk on fire after 4 messages; "
        "the messages it had not sent were given back"
    )
    counts = count_by_status(engine, eid)
    assert (counts["sent"], counts["pending"], counts["in_flight"]) == (4, 26, 0)
    with engine.connect() as conn:
        attempts = conn.execute(
            select(deliveries.c.attempts).where(deliveries.c.status == "pending")
        ).scalars()
        assert set(attempts) == {0}  # given back untouched


# ---- 4. results are written as they come ----------------------------------------------
class _Watching(MaildirTransport):
    """A real Maildir that notes, before each message, how many rows the ledger has sent;
    written like a one-connection network transport (each answer at once)."""

    record_every = None  # type: ignore[assignment]  # (None: every answer at once)

    def __init__(self, path: Path, engine: Engine) -> None:
        super().__init__(path)
        self.engine = engine
        self.seen: list[int] = []

    def send_batch(
        self, messages: Sequence[Outgoing], on_results: OnResults | None = None
    ) -> list[Result]:
        results = []
        for i, message in enumerate(messages):
            with self.engine.connect() as conn:
                self.seen.append(
                    conn.execute(
                        text("SELECT count(*) FROM deliveries WHERE status = 'sent'")
                    ).scalar_one()
                )
            results += super().send_batch([message])
            if on_results is not None:
                on_results([(i, results[-1])])
        return results


def test_each_answer_is_recorded_before_the_next_message(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    add_audience(engine, 20)
    eid = make_edition(engine)
    transport = _Watching(tmp_path / "box", engine)
    report = send_edition(settings, engine, eid, clock=FixedClock(), transport=transport)
    assert report.sent == 20
    assert transport.seen == list(range(20))  # never a batch of answers waiting


def test_database_faults_while_recording_lose_no_result(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, tmp_path: Path
) -> None:
    """PostgreSQL: the sender's backends are killed (pg_terminate_backend) twice during the
    send. SQLite: another process-like connection holds the write lock for a while."""
    from pipeline.store.db import connect

    postgres = db_url.startswith("postgresql")
    settings = make_settings(**{"database.url": db_url, "sending.batch_size": 100})
    add_audience(engine, 100)
    eid = make_edition(engine)
    sender = connect(db_url + ("?application_name=nl-sender" if postgres else ""))
    blockers: list[threading.Thread] = []

    def fault() -> None:
        if postgres:
            with engine.begin() as conn:
                killed = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = 'nl-sender'"
                    )
                ).scalar_one()
            assert killed >= 1
            return
        ready = threading.Event()

        def hold() -> None:
            with engine.begin() as conn:  # BEGIN IMMEDIATE: the write lock
                conn.execute(text("UPDATE editions SET pause_reason = NULL"))
                ready.set()
                threading.Event().wait(0.3)

        blockers.append(threading.Thread(target=hold))
        blockers[-1].start()
        ready.wait()

    class _Faulty(MaildirTransport):
        def send_batch(
            self, messages: Sequence[Outgoing], on_results: OnResults | None = None
        ) -> list[Result]:
            out: list[Result] = []
            for i, message in enumerate(messages):
                if i in (10, 50):
                    fault()
                out += super().send_batch([message])
                if on_results is not None:
                    on_results([(i, out[-1])])
            return out

    try:
        report = send_edition(
            settings, sender, eid, clock=FixedClock(), transport=_Faulty(tmp_path / "box")
        )
    finally:
        for thread in blockers:
            thread.join()
        sender.dispose()
    assert report.sent == 100 and report.status == "sent"
    assert count_by_status(engine, eid)["sent"] == 100
