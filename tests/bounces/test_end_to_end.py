"""The audience end to end, with real servers: SMTP into postfix, bounces read back over
IMAP from dovecot (tests/bounces/servers.py).

A segment of tagged readers gets an issue greeting them with a custom field; a hard bounce
postfix generates (unknown local user) suppresses its recipient, so the next issue skips
them; a recipient postfix refuses at RCPT time (550) is suppressed by the same decision;
a soft bounce (postfix's delay warning) three times within the window suppresses; a mail
to the List-Unsubscribe address unsubscribes.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import smtplib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from pipeline.bounces.mailbox import fetch_bounces
from pipeline.clock import SystemClock
from pipeline.config import Settings
from pipeline.sending.editions import freeze_edition
from pipeline.sending.engine import send_edition
from pipeline.store.tables import deliveries, delivery_events
from pipeline.subscribers.service import add_subscriber, get_subscriber, sync_lists
from pipeline.subscribers.tags import tag_subscriber
from tests.bounces.servers import Dovecot, Postfix

pytestmark = pytest.mark.slow

SOURCE_ISSUE = "2026-12-01-microneedling"
GREETING = "A note for {{ recipient('skin_type', 'every skin type') }} skin."


def write_issue(project: Path, slug: str) -> None:
    target = project / "issues" / slug
    shutil.copytree(project / "issues" / SOURCE_ISSUE, target)
    text = (target / "issue.md").read_text()
    front, _, body = text[4:].partition("\n---\n")
    (target / "issue.md").write_text(f"---\n{front}\nsegment: vip\n---\n\n{GREETING}\n{body}")


def wait_for(check: Callable[[], bool], what: str, tries: int = 600) -> None:
    """Poll (postfix works in its own time); fails after ``tries`` looks, never on time."""
    for _ in range(tries):
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def ledger(engine: Engine, edition_id: int) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.email, deliveries.c.status).where(
                deliveries.c.edition_id == edition_id
            )
        ).all()
    return {r.email: r.status for r in rows}


def body_of(path: Path) -> tuple[str, Any]:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    part = msg.get_body(("plain",))
    return (part.get_content() if part is not None else ""), msg


def test_the_audience_end_to_end(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    project_dir: Path,
    postfix: Postfix,
    dovecot: Dovecot,
) -> None:
    with (project_dir / "newsletter.toml").open("a") as fh:
        fh.write('\n[[segments]]\nname = "vip"\ncondition = \'tag "vip"\'\n')
    settings = make_settings(
        env={"NEWSLETTER_IMAP_PASSWORD": dovecot.password},
        **{
            "database.url": db_url,
            "sending.transport": "smtp",
            "smtp.host": "127.0.0.1",
            "smtp.port": postfix.port,
            "smtp.connections": 2,
            "sender.email": "hello@glownotes.example.com",
            "bounces.mailbox": "imap",
            "bounces.return_path": "bounces@glownotes.example.com",
            "bounces.imap_host": "127.0.0.1",
            "bounces.imap_port": dovecot.port,
            "bounces.imap_security": "none",
            "bounces.imap_username": dovecot.user,
            "bounces.soft_limit": 3,
            "bounces.soft_window_days": 30,
        },
    )
    sync_lists(engine, settings)
    people = {
        "ana@readers.example.com": ("vip", {"skin_type": "oily"}),
        "cleo@readers.example.com": ("vip", {}),
        "ben@readers.example.com": (None, {"skin_type": "dry"}),  # not in the segment
        "ghost@gone.example.com": ("vip", {}),  # postfix bounces it: unknown user
        "slow@slow.example.com": ("vip", {}),  # postfix defers it: delay warnings
        "nobody@readers.example.com": ("vip", {}),  # postfix refuses it at RCPT: 550
    }
    for address, (tag, fields) in people.items():
        add_subscriber(
            engine,
            address,
            lists=["beauty-tips"],
            method="cli",
            confirmed=True,
            attributes=fields,
        )
        if tag:
            tag_subscriber(engine, address, [tag])

    def send(n: int) -> int:
        slug = f"2026-12-0{n}-vip"
        write_issue(project_dir, slug)
        edition_id = freeze_edition(settings, engine, slug)
        send_edition(settings, engine, edition_id, clock=SystemClock())
        return edition_id

    def bounce_count() -> int:
        return len(postfix.messages("bounces"))

    # ---- issue 1: the segment, greeted with a custom field ------------------------------
    first = send(1)
    assert ledger(engine, first) == {
        "ana@readers.example.com": "sent",
        "cleo@readers.example.com": "sent",
        "ghost@gone.example.com": "sent",  # accepted; postfix bounces it afterwards
        "slow@slow.example.com": "sent",  # accepted; postfix keeps retrying
        "nobody@readers.example.com": "failed",
    }
    # Accepted is not yet delivered: postfix's local delivery writes the Maildirs a moment
    # after the 250 (under a loaded CI run, after the send had returned).
    wait_for(
        lambda: bool(postfix.messages("readers/ana") and postfix.messages("readers/cleo")),
        "the delivery of issue 1 to ana and cleo",
    )
    ana_text, ana_msg = body_of(postfix.messages("readers/ana")[0])
    cleo_text, _ = body_of(postfix.messages("readers/cleo")[0])
    assert "A note for oily skin." in ana_text
    assert "A note for every skin type skin." in cleo_text
    assert postfix.messages("readers/ben") == []
    # The 550 at RCPT time went through the one decision: suppressed at once.
    nobody = get_subscriber(engine, email="nobody@readers.example.com")
    assert nobody is not None and nobody.status == "bounced"

    wait_for(lambda: bounce_count() >= 2, "the DSNs of issue 1")
    report = fetch_bounces(settings, engine, now=SystemClock().now())
    assert (report.messages, report.hard, report.soft, report.suppressed) == (2, 1, 1, 1)
    assert get_subscriber(engine, email="ghost@gone.example.com").status == "bounced"  # type: ignore[union-attr]
    assert get_subscriber(engine, email="slow@slow.example.com").status == "active"  # type: ignore[union-attr]
    again = fetch_bounces(settings, engine, now=SystemClock().now())
    assert again.messages == 0  # flagged on the server: never processed twice

    # ---- issues 2 and 3: the next issue skips the hard bounce; soft bounces add up -----
    for n, expected_status in ((2, "active"), (3, "bounced")):
        edition = send(n)
        assert set(ledger(engine, edition)) == {
            "ana@readers.example.com",
            "cleo@readers.example.com",
            "slow@slow.example.com",
        }

        def warned(n: int = n) -> bool:
            return bounce_count() >= n + 1

        wait_for(warned, f"the delay warning of issue {n}")
        report = fetch_bounces(settings, engine, now=SystemClock().now())
        assert (report.messages, report.soft) == (1, 1)
        slow = get_subscriber(engine, email="slow@slow.example.com")
        assert slow is not None and slow.status == expected_status

    fourth = send(4)
    assert set(ledger(engine, fourth)) == {"ana@readers.example.com", "cleo@readers.example.com"}

    # ---- a mail to the List-Unsubscribe address unsubscribes -----------------------------
    header = str(ana_msg["List-Unsubscribe"])
    found = re.search(r"<mailto:([^?>]+)\?subject=unsubscribe>", header)
    assert found is not None and found.group(1).startswith("bounces+u")
    before = bounce_count()
    with smtplib.SMTP("127.0.0.1", postfix.port) as smtp:
        smtp.sendmail(
            "ana@readers.example.com",
            [found.group(1)],
            b"From: ana@readers.example.com\r\nSubject: unsubscribe\r\n\r\nstop it\r\n",
        )
    wait_for(lambda: bounce_count() > before, "the unsubscribe mail")
    report = fetch_bounces(settings, engine, now=SystemClock().now())
    assert (report.messages, report.unsubscribed) == (1, 1)
    ana = get_subscriber(engine, email="ana@readers.example.com")
    assert ana is not None and ana.status == "unsubscribed"
    assert ana.subscriptions == {"beauty-tips": "unsubscribed"}
    with engine.connect() as conn:
        events = conn.execute(
            select(delivery_events.c.event, delivery_events.c.edition_id).where(
                delivery_events.c.event == "unsubscribe"
            )
        ).all()
    assert [(e.event, e.edition_id) for e in events] == [("unsubscribe", first)]
