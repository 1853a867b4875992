"""Shared by the A/B and local-time tests: an issue with subject variants, an SMTP server
that keeps every message's subject and first tracked link, and clicks through the real
tracking endpoint of a served app."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.tracking.record import Tracker
from pipeline.web.app import create_app
from tests.sending.conftest import RecordingHandler, SmtpServer, _start_smtp
from tests.web.conftest import serve

SLUG = "2026-12-01-microneedling"
SUBJECTS = (
    "Microneedling, explained",
    "Is microneedling worth it?",
    "What nobody tells you about microneedling",
    "Microneedling: 5 questions to ask first",
)
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
_LINK = re.compile(r'href="(http[^"]*/l/[^"]+/([1-9]\d*))"')


def write_ab_issue(
    root: Path, *, sample: str = "40%", wait: str = "2h", winner_by: str = "clicks"
) -> None:
    """Give the sample issue four subject variants and an ab_test block."""
    issue = root / "issues" / SLUG / "issue.md"
    text = issue.read_text()
    variants = "".join(
        f'  - subject: "{s}"\n    preheader: "Preheader {i}"\n' if i % 2 else f'  - "{s}"\n'
        for i, s in enumerate(SUBJECTS)
    )
    block = (
        f"subject_variants:\n{variants}ab_test:\n  sample: {sample}\n  wait: {wait}\n"
        f"  winner_by: {winner_by}\n"
    )
    text = re.sub(r'(?m)^subject: "[^"]*"\n', "", text, count=1)
    issue.write_text(text.replace("---\n", "---\n" + block, 1))


@dataclass
class Captured:
    rcpt: str
    subject: str
    link: str  # the first tracked link to an article (not the honeypot)
    preheader: str


class KeepingHandler(RecordingHandler):
    """RecordingHandler that also keeps each message's subject and first tracked link."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Captured] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            body = msg.get_body(("html",))
            html = body.get_content() if body is not None else ""
            found = _LINK.search(html)
            pre = re.search(r'class="nl-preheader"[^>]*>([^<&]*)', html)
            with self.lock:
                for rcpt in envelope.rcpt_tos:
                    self.messages.append(
                        Captured(
                            rcpt,
                            str(msg["Subject"]),
                            found.group(1) if found else "",
                            pre.group(1).strip() if pre else "",
                        )
                    )
        return answer


@contextmanager
def keeping_smtp() -> Iterator[tuple[SmtpServer, KeepingHandler]]:
    controller, server = _start_smtp()
    handler = KeepingHandler()
    controller.handler = handler
    server.handler = handler
    try:
        yield server, handler
    finally:
        controller.stop()


def smtp_settings(make_settings: Any, db_url: str, server: SmtpServer, base_url: str) -> Settings:
    settings: Settings = make_settings(
        **{
            "database.url": db_url,
            "newsletter.base_url": base_url,
            "sending.transport": "smtp",
            "sending.backoff_base": 0.0,
            "smtp.host": server.host,
            "smtp.port": server.port,
            "smtp.connections": 4,
        }
    )
    return settings


@dataclass
class Site:
    url: str
    app: FastAPI

    def flush(self) -> int:
        tracker: Tracker = self.app.state.ctx.extra["tracker"]
        return tracker.recorder.flush()

    def click(self, links: list[str]) -> list[int]:
        """GET each link as a person's browser does; the status codes."""
        with httpx.Client(follow_redirects=False, timeout=30, headers={"User-Agent": CHROME}) as c:
            return [c.get(link).status_code for link in links]


@contextmanager
def served(settings: Settings, engine: Any, clock: FixedClock, port: int) -> Iterator[Site]:
    app = create_app(settings, engine=engine, clock=clock)
    with serve(app, port) as url:
        yield Site(url, app)
