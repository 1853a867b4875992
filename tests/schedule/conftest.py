"""Helpers for the schedule tests: an audience in the database, the outbox, the sample slug."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from pipeline.config import Settings
from pipeline.store.tables import deliveries, lists, subscribers, subscriptions
from pipeline.subscribers.lists import sync_lists
from tests.conftest import free_port

SLUG = "2026-12-01-microneedling"
AT = "2026-12-01 09:00"  # GMT: 09:00 UTC
DUE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BEFORE = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def add_audience(
    engine: Engine, settings: Settings, n: int, list_slug: str = "beauty-tips"
) -> None:
    """``n`` confirmed subscribers of ``list_slug``: reader0@example.com, reader1@..."""
    sync_lists(engine, settings)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        list_id = conn.execute(select(lists.c.id).where(lists.c.slug == list_slug)).scalar_one()
        start = conn.execute(select(func.count()).select_from(subscribers)).scalar_one()
        rows = [
            {
                "email": f"reader{i}@example.com",
                "name": f"Reader {i}",
                "attributes": {},
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, start + n)
        ]
        conn.execute(insert(subscribers), rows)
        ids = conn.execute(
            select(subscribers.c.id).where(subscribers.c.email.in_([r["email"] for r in rows]))
        ).scalars()
        conn.execute(
            insert(subscriptions),
            [
                {
                    "subscriber_id": sid,
                    "list_id": list_id,
                    "status": "confirmed",
                    "consent_at": now,
                    "consent_method": "cli",
                    "consent_text": "",
                    "confirmed_at": now,
                    "updated_at": now,
                }
                for sid in ids
            ],
        )


def outbox(settings: Settings) -> list[tuple[str, str, str]]:
    """(To, Message-ID, file name) of every message in the Maildir outbox."""
    folder = settings.outbox_dir / "new"
    if not folder.is_dir():
        return []
    found = []
    parser = BytesHeaderParser()
    for path in sorted(Path(folder).iterdir()):
        with path.open("rb") as fh:
            headers = parser.parse(fh)
        found.append((str(headers["To"]), str(headers["Message-ID"]), path.name))
    return found


def ledger(engine: Engine) -> dict[str, int]:
    """Delivery rows by status."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        ).all()
    return {status: int(n) for status, n in rows}


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler that keeps (recipient, Message-ID) of every message it accepts
    and sets ``reached`` once ``target`` messages are in (to kill a sender at that point)."""

    port: int = 0
    accepted: list[tuple[str, str]] = field(default_factory=list)
    target: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = BytesHeaderParser().parsebytes(envelope.content)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.accepted.append((rcpt, str(headers["Message-ID"])))
            if self.target and len(self.accepted) >= self.target:
                self.reached.set()
        return "250 2.0.0 Ok: queued"


@pytest.fixture
def smtp_recorder() -> Iterator[SmtpRecorder]:
    """A real SMTP server on 127.0.0.1 that records what it is sent."""
    from aiosmtpd.controller import Controller

    recorder = SmtpRecorder(port=free_port())
    controller = Controller(recorder, hostname="127.0.0.1", port=recorder.port)
    controller.start()
    yield recorder
    controller.stop()
