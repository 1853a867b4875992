"""Fixtures of the web tests: the app served by a real uvicorn on 127.0.0.1 (in a thread),
with the test database, the Maildir transport in the test's project folder, a fixed clock,
and a SendGrid-style ECDSA key pair for signing webhook payloads."""

from __future__ import annotations

import base64
import email
import email.policy
import mailbox
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.sending.mail_queue import QueueReport, QueueWorker
from pipeline.web.app import create_app

#: A proof of work that takes milliseconds (the tests solve hundreds of them); the
#: difficulty itself is tested in test_botcheck.py.
EASY_ALTCHA = {"web.altcha_cost": 1, "web.altcha_max_counter": 20}


@dataclass
class Server:
    url: str
    app: FastAPI
    settings: Settings
    engine: Engine
    clock: FixedClock

    def client(self, **kwargs: Any) -> httpx.Client:
        # plain HTTP on loopback: no certificate store to load
        return httpx.Client(
            base_url=self.url, follow_redirects=False, timeout=30, verify=False, **kwargs
        )


class SigningKey:
    """A webhook key pair like SendGrid's: the public key as base64 DER."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_b64 = base64.b64encode(der).decode("ascii")

    def sign(self, timestamp: str, body: bytes) -> str:
        signature = self.private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode("ascii")


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def web_settings(
    make_settings: Callable[..., Settings], db_url: str, port: int, signing_key: SigningKey
) -> Settings:
    return make_settings(
        env={"SENDGRID_WEBHOOK_PUBLIC_KEY": signing_key.public_b64},
        **{
            "database.url": db_url,
            "newsletter.base_url": f"http://127.0.0.1:{port}",
            "sending.transport": "maildir",
            **EASY_ALTCHA,
        },
    )


@contextmanager
def serve(app: FastAPI, port: int) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread until the caller is done."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # readiness, not time: the loop ends when uvicorn listens
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.005)
    ctx = app.state.ctx
    QUEUES[ctx.settings.outbox_dir] = ctx.extra["mail_queue"]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        QUEUES.pop(ctx.settings.outbox_dir, None)
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(
    web_settings: Settings, engine: Engine, port: int, clock: FixedClock
) -> Iterator[Server]:
    app = create_app(web_settings, engine=engine, clock=clock)
    with serve(app, port) as url:
        yield Server(url, app, web_settings, engine, clock)


# ---- the Maildir outbox -------------------------------------------------------------------
#: The queue worker of each served app, by its outbox (the tests serve with lifespan off, so
#: no background thread runs: ``mails`` works the queue as the thread would, in the test).
QUEUES: dict[Path, QueueWorker] = {}


def deliver(settings: Settings) -> QueueReport | None:
    """Work the email queue of the app serving ``settings`` (its clock, its database)."""
    worker = QUEUES.get(settings.outbox_dir)
    return worker.flush() if worker is not None else None


def outbox(settings: Settings) -> list[EmailMessage]:
    """Every message the Maildir transport wrote (in no particular order); the queue is not
    worked first (``mails`` does that)."""
    path = settings.outbox_dir
    if not path.exists():
        return []
    box = mailbox.Maildir(path, create=False)
    messages = []
    for key in box.iterkeys():
        with box.get_file(key) as fh:
            raw = fh.read()
        messages.append(email.message_from_bytes(raw, policy=email.policy.default))
    return messages


def mails(settings: Settings, subject_part: str, to: str = "") -> list[EmailMessage]:
    """Messages whose subject contains ``subject_part`` (and sent to ``to``, if given),
    once the app's email queue has been worked."""
    deliver(settings)
    return [
        m
        for m in outbox(settings)
        if subject_part in str(m["Subject"]) and (not to or to in str(m["To"]))
    ]


def sent_by_thread(settings: Settings, subject_part: str, to: str) -> list[EmailMessage]:
    """Messages the app's own background queue thread sends (an app served with its
    lifespan on): waits until one is there (readiness, not time; 30 s at most)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            messages = outbox(settings)
        except FileNotFoundError:  # the thread is creating the Maildir's folders right now
            messages = []
        found = [m for m in messages if subject_part in str(m["Subject"]) and to in str(m["To"])]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, path: str) -> str:
    """The first link to ``path`` (e.g. '/confirm/') in the message's text part."""
    found = re.search(r"https?://\S*" + re.escape(path) + r"\S+", text_of(message))
    assert found, f"no {path} link in:\n{text_of(message)}"
    return found.group(0)


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)
