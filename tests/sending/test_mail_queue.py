"""The queue of signup emails, worked as ``send_queued`` does for the web app's thread,
``subscribers send-queued`` and ``send-due``: limits, erased and suppressed people,
transient failures retried later, claims of a crashed worker taken again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.sending.mail_queue import STALE_CLAIM, send_queued
from pipeline.store.tables import mail_queue
from pipeline.subscribers.erasure import erase
from pipeline.subscribers.service import sync_lists
from pipeline.subscribers.signup import Signup, sign_up
from tests.conftest import free_port
from tests.sending.conftest import SmtpServer

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def statuses(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(mail_queue.c.status).order_by(mail_queue.c.id)).scalars())


@pytest.fixture
def smtp_settings(
    make_settings: Callable[..., Settings], db_url: str, smtp_server: SmtpServer
) -> Settings:
    return make_settings(
        **{
            "database.url": db_url,
            "sending.transport": "smtp",
            "smtp.host": smtp_server.host,
            "smtp.port": smtp_server.port,
            "smtp.security": "none",
            "web.confirm_hourly_cap": 2,
        }
    )


def _signup(settings: Settings, engine: Engine, address: str, now: datetime = T0) -> None:
    sync_lists(engine, settings)
    sign_up(settings, engine, Signup(address, ["beauty-tips"]), now=now)


def test_the_hourly_cap_and_erasure_hold_when_the_queue_is_worked(
    smtp_settings: Settings, engine: Engine, smtp_server: SmtpServer
) -> None:
    for n in range(3):
        _signup(smtp_settings, engine, f"cap{n}@example.com")
    _signup(smtp_settings, engine, "gone@example.com")
    erase(engine, "gone@example.com")  # the row went with the person
    report = send_queued(smtp_settings, engine, clock=FixedClock(T0))
    assert (report.sent, report.skipped, report.failed) == (2, 1, 0)
    assert sorted(r for r, _ in smtp_server.handler.accepted) == [
        "cap0@example.com",
        "cap1@example.com",
    ]
    assert statuses(engine) == ["sent", "sent", "skipped"]
    # nothing is sent twice
    assert send_queued(smtp_settings, engine, clock=FixedClock(T0)).worked == 0


def test_a_transient_failure_is_retried_later(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, smtp_server: SmtpServer
) -> None:
    down = make_settings(
        **{
            "database.url": db_url,
            "sending.transport": "smtp",
            "smtp.host": "127.0.0.1",
            "smtp.port": free_port(),  # nobody listens
            "smtp.security": "none",
        }
    )
    _signup(down, engine, "wait@example.com")
    clock = FixedClock(T0)
    report = send_queued(down, engine, clock=clock)
    assert (report.sent, report.retrying) == (0, 1)
    assert statuses(engine) == ["queued"]
    # not due yet: nothing happens; a minute later, with the relay back, it goes
    assert send_queued(down, engine, clock=clock).worked == 0
    clock.advance(timedelta(minutes=1))
    up = down.model_copy(update={"smtp": down.smtp.model_copy(update={"port": smtp_server.port})})
    assert send_queued(up, engine, clock=clock).sent == 1
    assert [r for r, _ in smtp_server.handler.accepted] == ["wait@example.com"]


def test_a_crashed_workers_claim_is_taken_again(
    smtp_settings: Settings, engine: Engine, smtp_server: SmtpServer
) -> None:
    _signup(smtp_settings, engine, "crash@example.com")
    with engine.begin() as conn:  # a worker claimed it and died before sending
        conn.execute(update(mail_queue).values(status="sending", claim_id="dead", claimed_at=T0))
    assert send_queued(smtp_settings, engine, clock=FixedClock(T0)).worked == 0
    later = FixedClock(T0 + STALE_CLAIM + timedelta(seconds=1))
    assert send_queued(smtp_settings, engine, clock=later).sent == 1
    assert statuses(engine) == ["sent"]
