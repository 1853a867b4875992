"""Signup emails leave the request path: every answer (new, known, suppressed address) only
writes the signup and its queue row; the queue worker then sends, through a real SMTP
server (aiosmtpd), exactly what the limits allow. No timing is measured: the tests assert
that nothing is sent while the request is answered, whatever the address."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select

from pipeline.config import Settings
from pipeline.sending.mail_queue import QueueWorker, send_queued
from pipeline.store.tables import mail_queue
from pipeline.subscribers import service
from tests.conftest import free_port
from tests.web.conftest import Server, link_in
from tests.web.helpers import confirm_link, other_server, signup

PROXIED = {"web.trusted_proxies": ["127.0.0.0/8"]}


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 2.0.0 Ok: queued"

    def to(self, address: str, subject: str = "") -> list[EmailMessage]:
        with self.lock:
            return [
                m for m in self.messages if address in str(m["To"]) and subject in str(m["Subject"])
            ]


@contextmanager
def smtp_app(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, **overrides: Any
) -> Iterator[tuple[Server, Inbox]]:
    """The app sending through a real SMTP server on loopback."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = {
            "sending.transport": "smtp",
            "smtp.host": "127.0.0.1",
            "smtp.port": port,
            "smtp.security": "none",
            **overrides,
        }
        with other_server(make_settings, db_url, engine, **smtp) as server:
            yield server, inbox
    finally:
        controller.stop()


def queued(engine: Engine) -> list[tuple[str, str, str]]:
    """(kind, lists, status) of every queue row, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(mail_queue.c.kind, mail_queue.c.lists, mail_queue.c.status).order_by(
                mail_queue.c.id
            )
        ).all()
    return [(r.kind, r.lists, r.status) for r in rows]


def work(server: Server) -> None:
    worker: QueueWorker = server.app.state.ctx.extra["mail_queue"]
    worker.flush()


def test_new_known_and_suppressed_answers_send_nothing_in_the_request(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    with smtp_app(make_settings, db_url, engine) as (server, inbox):
        service.add_subscriber(
            server.engine, "known@example.com", lists=["beauty-tips"], method="cli", confirmed=True
        )
        service.suppress(server.engine, "angry@example.com", "complained")
        with server.client() as client:
            answers = [
                signup(client, address)
                for address in ("new@example.com", "known@example.com", "angry@example.com")
            ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert answers[0].text.count("Almost done") == 1
        # every answer is given and nothing has been sent: the emails wait in the queue
        assert inbox.messages == []
        assert queued(server.engine) == [("confirm", "beauty-tips", "queued")]
        work(server)
        assert [str(m["To"]) for m in inbox.messages] == ["new@example.com"]
        assert queued(server.engine) == [("confirm", "beauty-tips", "sent")]
        [confirm] = inbox.to("new@example.com", "Please confirm")
        # confirming queues the welcome; it too is sent by the worker, once
        with server.client() as client:
            assert confirm_link(client, link_in(confirm, "/confirm/")).status_code == 200
        assert inbox.to("new@example.com", "Welcome") == []
        work(server)
        work(server)
        assert len(inbox.to("new@example.com", "Welcome")) == 1


def test_25_signups_from_5_networks_send_one_email_through_smtp(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    with smtp_app(make_settings, db_url, engine, **PROXIED) as (server, inbox):
        for n in range(5):
            with server.client(headers={"X-Forwarded-For": f"198.51.100.{n + 1}"}) as client:
                for _ in range(5):
                    assert signup(client, "victim@example.com").status_code == 200
                    assert inbox.messages == []  # never inside a request
        # one row waits, however many times the address was entered
        assert queued(server.engine) == [("confirm", "beauty-tips", "queued")]
        work(server)
        assert len(inbox.to("victim@example.com")) == 1
        # later signups within the cooldown are queued and skipped by the worker
        server.clock.advance(timedelta(hours=1))
        with server.client(headers={"X-Forwarded-For": "198.51.100.77"}) as client:
            signup(client, "victim@example.com")
        work(server)
        assert len(inbox.to("victim@example.com")) == 1
        assert queued(server.engine)[-1] == ("confirm", "beauty-tips", "skipped")


def test_a_suppressed_address_gets_nothing_from_the_worker_either(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    with smtp_app(make_settings, db_url, engine) as (server, inbox):
        with server.client() as client:
            signup(client, "late@example.com")
        # suppressed between the signup and the worker's run (a complaint came in)
        service.suppress(server.engine, "late@example.com", "complained")
        report = send_queued(server.settings, server.engine, clock=server.clock)
        assert (report.sent, report.skipped) == (0, 1)
        assert inbox.messages == []


def test_the_apps_background_thread_sends_the_queue(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    with smtp_app(make_settings, db_url, engine) as (server, inbox):
        worker: QueueWorker = server.app.state.ctx.extra["mail_queue"]
        worker.start()  # what the app's lifespan does under `newsletter serve`
        try:
            with server.client() as client:
                signup(client, "thread@example.com")
            done = threading.Event()
            for _ in range(1500):  # readiness, not time: ends when the mail is there
                if inbox.to("thread@example.com") or done.wait(0.02):
                    break
        finally:
            worker.close()
        assert len(inbox.to("thread@example.com", "Please confirm")) == 1
