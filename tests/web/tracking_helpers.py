"""Shared by the tracking tests: a local "shop" the tracked links point to, and an issue
sent through the Maildir transport to a few people."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import Engine, select

from pipeline.config import SocialSection
from pipeline.sending.editions import freeze_edition
from pipeline.sending.engine import send_edition
from pipeline.store.tables import delivery_events
from pipeline.subscribers import service
from pipeline.tracking.consent import set_tracking
from pipeline.tracking.record import Tracker
from tests.conftest import free_port
from tests.web.conftest import Server, html_of, mails

SLUG = "2026-12-01-microneedling"
SUBJECT = "Microneedling, explained"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


class _Shop(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<html><head><title>Shop {self.path}</title></head><body>ok</body></html>"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def shop() -> Iterator[str]:
    """A local web shop; its pages are titled 'Shop <path>'."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Shop)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def send_issue(
    server: Server,
    shop_url: str,
    people: list[str],
    *,
    untracked: tuple[str, ...] = (),
    names: dict[str, str] | None = None,
) -> int:
    """Add two shop links to the sample issue, subscribe ``people``, send it (Maildir),
    and move the clock ten minutes on (past the prefetch window)."""
    issue = server.settings.issues_dir / SLUG / "issue.md"
    text = re.sub(r"(?m)^articles: .*$", "articles: [01-microneedling, 02-tips]", issue.read_text())
    issue.write_text(  # the lead article and the tips only: no product or social links
        text + f"\n\n[Shop the serum]({shop_url}/serum) or [Shop the cream]({shop_url}/cream).\n"
    )
    for address in people:
        added = service.add_subscriber(
            server.engine,
            address,
            name=(names or {}).get(address, ""),
            lists=["beauty-tips"],
            method="cli",
            confirmed=True,
        )
        assert added.subscriber_id is not None
        if address in untracked:
            set_tracking(server.engine, added.subscriber_id, False)
    settings = server.settings.model_copy(update={"social": SocialSection()})
    edition_id = freeze_edition(settings, server.engine, SLUG, clock=server.clock)
    report = send_edition(server.settings, server.engine, edition_id, clock=server.clock)
    assert report.sent == len(people)
    server.clock.advance(timedelta(minutes=10))
    return edition_id


def message_to(server: Server, address: str) -> EmailMessage:
    [message] = mails(server.settings, SUBJECT, to=address)
    return message


def hrefs(message: EmailMessage) -> list[str]:
    return re.findall(r'href="([^"]+)"', html_of(message))


def tracked_links(message: EmailMessage) -> list[str]:
    return [h for h in hrefs(message) if "/l/" in h]


def flush(server: Server) -> int:
    tracker: Tracker = server.app.state.ctx.extra["tracker"]
    return tracker.recorder.flush()


def recorded(engine: Engine) -> list[tuple[str, int | None, str | None, str | None]]:
    """(event, link index, verdict, reason) of every tracking event, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(delivery_events)
            .where(delivery_events.c.source == "tracking")
            .order_by(delivery_events.c.occurred_at, delivery_events.c.id)
        ).all()
    return [(r.event, r.link_index, r.verdict, r.reason) for r in rows]
