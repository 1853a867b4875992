"""Token URLs are redacted in uvicorn's access log (the app as ``newsletter serve`` runs
it: uvicorn's own logging set-up, the app's start-up)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.web.app import create_app
from pipeline.web.logs import MARKER, redact_path
from tests.web.conftest import link_in, sent_by_thread
from tests.web.helpers import signup


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logged_server(
    web_settings: Settings, engine: Engine, port: int, clock: FixedClock
) -> Iterator[tuple[str, Lines]]:
    app = create_app(web_settings, engine=engine, clock=clock)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", lifespan="on")
    lines = Lines()  # after uvicorn.Config: it replaces the loggers' handlers
    access = logging.getLogger("uvicorn.access")
    access.addHandler(lines)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}", lines
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        access.removeHandler(lines)


def test_token_urls_are_redacted_in_the_access_log(
    logged_server: tuple[str, Lines], web_settings: Settings
) -> None:
    url, lines = logged_server
    secret = "Zx9_secret-token-value.Abc123"
    paths = [
        f"/unsubscribe/{secret}",
        f"/confirm/{secret}",
        f"/preferences/{secret}?saved=1",
        f"/l/{secret}/3",
        f"/o/{secret}.gif",
    ]
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        for path in paths:
            client.get(path)
        signup(client, "logged@example.com")
        # sent by the app's background thread (the lifespan started it), not by the request
        [mail] = sent_by_thread(web_settings, "Please confirm", to="logged@example.com")
        confirm = link_in(mail, "/confirm/")
        client.get(confirm)
        client.get("/feed.xml")
    token = confirm.rsplit("/", 1)[1]
    text = "\n".join(lines.lines)
    assert secret not in text and token not in text
    assert text.count(f"/confirm/{MARKER}") == 2
    for prefix in ("/unsubscribe/", "/preferences/", "/l/", "/o/"):
        assert f"{prefix}{MARKER}" in text
    assert f"/preferences/{MARKER}?saved=1" in text and f"/l/{MARKER}/3" in text
    assert "GET /feed.xml" in text  # other paths are logged as they are


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/unsubscribe/abc.def", f"/unsubscribe/{MARKER}"),
        ("/o/abc.gif", f"/o/{MARKER}"),
        ("/l/abc/2?x=1", f"/l/{MARKER}/2?x=1"),
        ("/issues/2026-12-01-test", "/issues/2026-12-01-test"),
        ("/lists/abc", "/lists/abc"),
    ],
)
def test_redact_path(path: str, expected: str) -> None:
    assert redact_path(path) == expected
