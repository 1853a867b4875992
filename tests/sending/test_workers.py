"""Several worker processes send one edition: every recipient exactly once."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.sending.editions import edition_by_id
from pipeline.sending.ledger import count_by_status
from pipeline.sending.workers import PER_WORKER, choose_workers, send_with_workers
from tests.sending.conftest import SmtpServer, add_audience, make_edition


@pytest.mark.slow
def test_three_workers_send_each_recipient_once_over_their_share_of_connections(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, smtp_server: SmtpServer
) -> None:
    settings = make_settings(
        **{
            "database.url": db_url,
            "sending.transport": "smtp",
            "smtp.host": smtp_server.host,
            "smtp.port": smtp_server.port,
            "smtp.connections": 6,
            "sending.batch_size": 20,
        }
    )
    add_audience(engine, 150)
    smtp_server.handler.refuse = {"reader7@example.org"}
    eid = make_edition(engine)
    seen: list[int] = []
    report = send_with_workers(
        settings,
        eid,
        3,
        clock=FixedClock(),
        progress=lambda r: seen.append(r.sent),
        poll=0.05,
    )
    assert (report.sent, report.failed, report.status) == (149, 1, "sent")
    assert report.transport.endswith("(3 workers)")
    accepted = Counter(rcpt for rcpt, _ in smtp_server.handler.accepted)
    assert len(accepted) == 149 and set(accepted.values()) == {1}
    counts = count_by_status(engine, eid)
    assert (counts["sent"], counts["failed"], counts["pending"], counts["in_flight"]) == (
        149,
        1,
        0,
        0,
    )
    assert edition_by_id(engine, eid).status == "sent"
    assert seen and seen == sorted(seen)  # progress only goes forward


def test_the_number_of_workers(make_settings: Callable[..., Settings]) -> None:
    auto = make_settings()
    assert choose_workers(auto, 3, 10) == 3  # --workers wins
    assert choose_workers(make_settings(**{"sending.workers": 2}), None, 10) == 2
    assert choose_workers(auto, None, 10) == 1  # a small audience: one process
    assert choose_workers(auto, None, 1000 * PER_WORKER) == (os.cpu_count() or 1)
    smtp = make_settings(**{"sending.transport": "smtp"})
    assert choose_workers(smtp, None, 1000 * PER_WORKER) == 1  # one process drives SMTP
    assert choose_workers(smtp, 4, 1000 * PER_WORKER) == 4
