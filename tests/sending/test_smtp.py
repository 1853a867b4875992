from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, select

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.errors import TransportError
from pipeline.sending.direct import send_single
from pipeline.sending.engine import send_edition
from pipeline.sending.ledger import count_by_status
from pipeline.sending.recipient_values import recipient_values
from pipeline.sending.transports import get_transport
from pipeline.store.tables import deliveries
from tests.sending.conftest import (
    SmtpServer,
    add_audience,
    make_edition,
    sample_compiled,
    serve_smtp,
)


@pytest.fixture(params=["pipelining", "lock-step"])
def smtp_server(request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    """Each test against a relay offering PIPELINING (commands written together) and
    against one that does not (each command after the previous answer)."""
    yield from serve_smtp(pipelining=request.param == "pipelining")


def _smtp_settings(
    make: Callable[..., Settings], db_url: str, server: SmtpServer, **more: object
) -> Settings:
    return make(
        **{
            "database.url": db_url,
            "sending.transport": "smtp",
            "smtp.host": server.host,
            "smtp.port": server.port,
            "smtp.connections": 4,
            "sending.backoff_base": 0.0,
            "sending.batch_size": 50,
            **more,
        }
    )


def test_smtp_sends_and_records_per_recipient_answers(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, smtp_server: SmtpServer
) -> None:
    settings = _smtp_settings(make_settings, db_url, smtp_server)
    add_audience(engine, 60)
    smtp_server.handler.refuse = {"reader3@example.org", "reader40@example.org"}
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.failed, report.status) == (58, 2, "sent")
    accepted = Counter(rcpt for rcpt, _ in smtp_server.handler.accepted)
    assert len(accepted) == 58 and set(accepted.values()) == {1}
    with engine.connect() as conn:
        rows = {r.email: r for r in conn.execute(select(deliveries))}
    refused = rows["reader3@example.org"]
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert refused.error == ("SMTP 550 5.1.1 <reader3@example.org>: Recipient address rejected")
    ok = rows["reader0@example.org"]
    assert ok.status == "sent" and ok.provider_id.startswith("SMTP 250 2.0.0 Ok: queued as Q")
    message_ids = {mid for rcpt, mid in smtp_server.handler.accepted if rcpt == ok.email}
    assert message_ids == {ok.message_id}


def test_transient_answers_are_retried_and_lost_answers_are_uncertain(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, smtp_server: SmtpServer
) -> None:
    settings = _smtp_settings(
        make_settings, db_url, smtp_server, **{"sending.pause_min_sample": 1000}
    )
    add_audience(engine, 40)
    smtp_server.handler.script = [
        "421 4.3.2 Service shutting down",
        "451 4.3.0 Try again later",
        "drop",
        "451 4.3.0 Try again later",
        "drop",
        "421 4.7.0 Too many connections",
    ]
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    # A connection cut after the final dot of DATA: the relay had the whole message and
    # its answer never came, so the row is uncertain and is not sent again by itself.
    assert (report.sent, report.failed, report.retried, report.uncertain) == (38, 0, 4, 2)
    assert report.status == "sent"
    accepted = Counter(rcpt for rcpt, _ in smtp_server.handler.accepted)
    assert len(accepted) == 38 and set(accepted.values()) == {1}
    counts = count_by_status(engine, eid)
    assert (counts["sent"], counts["uncertain"]) == (38, 2)
    with engine.connect() as conn:
        attempts = sorted(r[0] for r in conn.execute(select(deliveries.c.attempts)))
        uncertain = conn.execute(
            select(deliveries.c.email, deliveries.c.error, deliveries.c.message_id).where(
                deliveries.c.status == "uncertain"
            )
        ).all()
    assert sum(attempts) == 44
    assert {row.email for row in uncertain}.isdisjoint(accepted)
    for row in uncertain:
        assert row.error.startswith("no answer from the SMTP server after the message was sent")
        assert row.message_id  # so a copy that did arrive can be matched


def test_a_recipient_that_keeps_failing_is_given_up(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, smtp_server: SmtpServer
) -> None:
    settings = _smtp_settings(
        make_settings,
        db_url,
        smtp_server,
        **{"sending.pause_min_sample": 1000, "sending.max_attempts": 3},
    )
    add_audience(engine, 1)
    smtp_server.handler.always = "451 4.3.0 Try again later"
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.failed, report.retried, report.status) == (0, 1, 2, "sent")
    with engine.connect() as conn:
        row = conn.execute(
            select(deliveries.c.status, deliveries.c.attempts, deliveries.c.error)
        ).one()
    assert tuple(row) == ("failed", 3, "gave up after 3 attempts: SMTP 451 4.3.0 Try again later")


def test_sending_pauses_past_the_error_rate(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, smtp_server: SmtpServer
) -> None:
    settings = _smtp_settings(
        make_settings,
        db_url,
        smtp_server,
        **{
            "sending.pause_min_sample": 10,
            "sending.batch_size": 10,
            "sending.pause_error_rate": 0.5,
        },
    )
    add_audience(engine, 30)
    smtp_server.handler.always = "554 5.7.1 Rejected for policy reasons"
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert report.status == "paused"
    assert report.pause_reason == (
        "10 of 10 attempts failed (100%, above sending.pause_error_rate 50%); "
        "last error: SMTP 554 5.7.1 Rejected for policy reasons"
    )
    counts = count_by_status(engine, eid)
    assert (counts["failed"], counts["pending"]) == (10, 20)


def test_send_single_over_smtp(
    make_settings: Callable[..., Settings], db_url: str, smtp_server: SmtpServer
) -> None:
    settings = _smtp_settings(make_settings, db_url, smtp_server)
    values = recipient_values(settings, "p1", "seed@example.org", "Seed", None)
    result = send_single(
        settings, sample_compiled(), to_email="seed@example.org", to_name="Seed", values=values
    )
    assert result.ok
    assert [r for r, _ in smtp_server.handler.accepted] == ["seed@example.org"]


def test_unreachable_server_is_transient(make_settings: Callable[..., Settings]) -> None:
    from tests.conftest import free_port

    port = free_port()
    settings = make_settings(**{"sending.transport": "smtp", "smtp.port": port})
    values = recipient_values(settings, "p1", "seed@example.org", "", None)
    transport = get_transport(settings)
    result = send_single(
        settings, sample_compiled(), to_email="seed@example.org", values=values, transport=transport
    )
    assert result.outcome == "transient"
    assert result.error is not None
    assert result.error.startswith(f"cannot connect to 127.0.0.1:{port}: ")


def test_lines_starting_with_a_dot_arrive_intact(
    make_settings: Callable[..., Settings], db_url: str, smtp_server: SmtpServer
) -> None:
    import email
    import email.policy

    from pipeline.render.personalise import compile_edition

    settings = _smtp_settings(make_settings, db_url, smtp_server)
    text = ".starts with a dot\n..two dots\n.\nend"
    compiled = compile_edition("Dots", "<p>.</p>", text)
    values = recipient_values(settings, "p1", "seed@example.org", "", None)
    assert send_single(settings, compiled, to_email="seed@example.org", values=values).ok
    msg = email.message_from_bytes(smtp_server.handler.last, policy=email.policy.default)
    body = msg.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == text


def test_smtp_auth_uses_the_password_from_the_environment(
    make_settings: Callable[..., Settings], smtp_auth_server: SmtpServer
) -> None:
    from tests.sending.conftest import SMTP_PASSWORD, SMTP_USER

    def settings_with(password: str) -> Settings:
        return make_settings(
            env={"NEWSLETTER_SMTP_PASSWORD": password} if password else {},
            **{
                "sending.transport": "smtp",
                "smtp.host": smtp_auth_server.host,
                "smtp.port": smtp_auth_server.port,
                "smtp.username": SMTP_USER,
            },
        )

    good = settings_with(SMTP_PASSWORD)
    values = recipient_values(good, "p1", "seed@example.org", "", None)
    assert send_single(good, sample_compiled(), to_email="seed@example.org", values=values).ok
    assert [r for r, _ in smtp_auth_server.handler.accepted] == ["seed@example.org"]

    with pytest.raises(TransportError) as err:
        send_single(
            settings_with("wrong"), sample_compiled(), to_email="a@example.org", values=values
        )
    assert str(err.value) == (
        "the SMTP server refused the login for 'newsletter': SMTP 535 5.7.8 Authentication "
        "credentials invalid (check [smtp] username and NEWSLETTER_SMTP_PASSWORD)"
    )
    with pytest.raises(TransportError) as err:
        get_transport(settings_with(""))
    assert str(err.value) == (
        "[smtp] username is 'newsletter' but there is no password "
        "(set NEWSLETTER_SMTP_PASSWORD in the environment)"
    )


def test_claims_follow_each_other_in_one_conversation(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, smtp_server: SmtpServer
) -> None:
    """The next claim's messages go out while the last ones of the claim before are still
    on the wire: the relay's first answer is held for a second, and the other sessions
    meanwhile send on into the next claims (sent claim by claim, each claim would wait
    for that answer). Every row is still sent once and recorded."""
    settings = _smtp_settings(make_settings, db_url, smtp_server, **{"sending.batch_size": 10})
    add_audience(engine, 55)  # claims of 10, 10, 10, 10, 10 and 5
    smtp_server.handler.script = ["stall"]  # the first message's answer comes after 1 s
    eid = make_edition(engine)
    report = send_edition(settings, engine, eid, clock=FixedClock())
    assert (report.sent, report.errors, report.status) == (55, 0, "sent")
    with engine.connect() as conn:
        by_id = conn.execute(select(deliveries.c.email).order_by(deliveries.c.id)).scalars()
        claim_of = {email: position // 10 for position, email in enumerate(by_id)}
        assert set(conn.execute(select(deliveries.c.status)).scalars()) == {"sent"}
    order = [claim_of[rcpt] for rcpt, _ in smtp_server.handler.accepted]
    assert sorted(order) == [c for c in range(6) for _ in range(10 if c < 5 else 5)]
    assert order != sorted(order)  # a later claim's message accepted before an earlier one's
    assert order[-1] == 0  # the held answer was the last
