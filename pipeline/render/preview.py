"""`issue preview`: serve var/build/<slug>/ on 127.0.0.1 and rebuild when a file changes.

The server is the standard library's; HTML pages get a tiny script that polls
``/__build`` and reloads the page after a rebuild. Watching uses watchfiles over the issue
folder, the templates and newsletter.toml. This module never prints: the CLI passes
``report`` to hear about each (re)build.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.errors import NewsletterError
from pipeline.render.build import Build, build_issue, write_build

RELOAD_SCRIPT = (
    "<script>(function(){var v=null;setInterval(function(){fetch('/__build')"
    ".then(function(r){return r.text()}).then(function(t){if(v!==null&&t!==v)"
    "{location.reload()}v=t}).catch(function(){})},1000)})();</script>"
)


@dataclass
class PreviewState:
    version: int = 0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(SimpleHTTPRequestHandler):
    state: PreviewState

    def __init__(self, *args: Any, state: PreviewState, **kwargs: Any) -> None:
        self.state = state
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/__build":
            body = f"{self.state.version}:{self.state.last_error}".encode()
            self._send(200, "text/plain; charset=utf-8", body)
            return
        if path == "/":
            links = "".join(
                f'<li><a href="/{n}">{n}</a></li>' for n in ("email.html", "web.html", "email.txt")
            )
            error = f"<pre>{self.state.last_error}</pre>" if self.state.last_error else ""
            page = f"<!doctype html><title>Preview</title>{error}<ul>{links}</ul>{RELOAD_SCRIPT}"
            self._send(200, "text/html; charset=utf-8", page.encode())
            return
        if path.endswith(".html"):
            file = Path(self.translate_path(path))
            if file.is_file():
                html = file.read_text(encoding="utf-8").replace(
                    "</body>", RELOAD_SCRIPT + "</body>"
                )
                self._send(200, "text/html; charset=utf-8", html.encode())
                return
        if path.endswith(".txt"):
            file = Path(self.translate_path(path))
            if file.is_file():
                self._send(200, "text/plain; charset=utf-8", file.read_bytes())
                return
        super().do_GET()

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def rebuild(
    settings: Settings, slug: str, state: PreviewState, report: Callable[[Build | None, str], None]
) -> None:
    """Build and write once; problems go to ``report`` and the page, never raise."""
    with state.lock:
        try:
            build = build_issue(settings, slug)
            write_build(settings, build)
        except NewsletterError as exc:
            state.last_error = str(exc)
            state.version += 1
            report(None, str(exc))
            return
        state.last_error = ""
        state.version += 1
        report(build, "")


def make_server(
    settings: Settings, slug: str, port: int, state: PreviewState
) -> ThreadingHTTPServer:
    folder = settings.build_dir / slug
    folder.mkdir(parents=True, exist_ok=True)
    handler = partial(_Handler, directory=str(folder), state=state)
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def watch_and_rebuild(
    settings: Settings,
    slug: str,
    state: PreviewState,
    report: Callable[[Build | None, str], None],
    stop: threading.Event,
) -> None:
    """Rebuild whenever the issue folder, the templates or newsletter.toml change."""
    from watchfiles import watch

    paths = [settings.issues_dir / slug, settings.templates_dir]
    if settings.config_path is not None:
        paths.append(settings.config_path)
    for _changes in watch(*[p for p in paths if p.exists()], stop_event=stop, debounce=200):
        rebuild(settings, slug, state, report)
