"""SendGrid: a million recipients, per-recipient values (signed tokens) included.

    python -m bench sendgrid

Two figures, each for the whole job and repeated 3 times:

- payloads: per-recipient values (first name, the two signed tokens, the URLs) made as
  the engine makes them (``recipient_values`` per row), the personalizations, 1,000 to a
  request, and the JSON text of each request encoded as the client posts it
  (``request_body``). Target: under 10 s for 1,000,000 recipients, met only on this whole
  figure (wall time). The process's CPU time is shown beside it: on a shared machine it
  says what the work costs when the wall time says mostly how busy the machine was.
- sent: the same through ``SendgridTransport.send_batch`` as the engine calls it (batches
  of ``batch_size``, ``concurrency`` threads, the official client), with every request
  really posted to a local stand-in for the API in another process that reads each body
  and answers 202; the stand-in's count must equal the number of requests. Posting shows
  beside the payload figure as the ratio of the two.
"""

from __future__ import annotations

import http.server
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import alternate, row, size
from bench.fixtures import SECRET, SLUG, project

TARGET_S = 10.0
CHUNK = 10_000  # recipients handed to the transport at a time (the engine's claim)


class _Accept(http.server.BaseHTTPRequestHandler):
    received = 0
    recipients = 0
    lock = threading.Lock()  # one thread per request: the counts need it

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        with self.lock:
            type(self).received += 1
            type(self).recipients += body.count(b'"to":')
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        data = json.dumps({"requests": self.received, "recipients": self.recipients}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve() -> None:
    """The stand-in API (``python -m bench.bench_sendgrid serve``): prints its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def _counts(host: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{host}/count", timeout=30) as answer:
        data: dict[str, int] = json.loads(answer.read())
    return data


def run() -> list[dict[str, Any]]:
    from pipeline.config import load_settings
    from pipeline.render.build import build_issue
    from pipeline.sending.mime import MessageSkeleton
    from pipeline.sending.recipient_values import recipient_values, web_url
    from pipeline.sending.transports.base import Outgoing
    from pipeline.sending.transports.sendgrid import SendgridTransport, request_body

    n = size(1_000_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp) / "project")
        settings = load_settings(
            root / "newsletter.toml",
            {"NEWSLETTER_SECRET_KEY": SECRET, "SENDGRID_API_KEY": "SG.bench"},
            root=root,
        )
        compiled = build_issue(settings, SLUG).compiled
    skeleton = MessageSkeleton(settings, compiled, slug=SLUG, lists=["beauty-tips"])
    web = web_url(settings, SLUG)
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_sendgrid", "serve"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    host = f"http://127.0.0.1:{int(server.stdout.readline())}"
    request_bytes = 0

    def transport() -> SendgridTransport:
        cfg = settings.sendgrid
        return SendgridTransport(
            api_key="SG.bench",
            host=host,
            sender={"email": settings.sender.email, "name": settings.sender.name},
            per_request=cfg.batch_size,
            concurrency=cfg.concurrency,
            categories=cfg.categories,
        )

    def chunk(start: int) -> list[Outgoing]:
        return [
            Outgoing(
                skeleton,
                f"reader{i}@example.org",
                f"Reader {i}",
                recipient_values(
                    settings, f"{i:032x}", f"reader{i}@example.org", f"Reader {i}", 1, web=web
                ),
                skeleton.new_message_id(),
                i,
            )
            for i in range(start, min(start + CHUNK, n))
        ]

    cpu: list[float] = []

    def payloads() -> float:
        nonlocal request_bytes
        sender = transport()
        started, cpu_started = time.perf_counter(), time.process_time()
        for start in range(0, n, CHUNK):
            requests, failures = sender.build_payloads(chunk(start))
            bodies = [request_body(body).encode() for _, body in requests]  # as posted
            assert not failures
            assert sum(len(p.people) for _, p in requests) == min(CHUNK, n - start)
        seconds = time.perf_counter() - started
        cpu.append(time.process_time() - cpu_started)
        request_bytes = len(bodies[0])
        return seconds

    def sent() -> float:
        sender = transport()
        before = _counts(host)
        started = time.perf_counter()
        for start in range(0, n, CHUNK):
            results = sender.send_batch(chunk(start))
            assert all(r.outcome == "sent" for r in results), results[0]
        sender.close()
        seconds = time.perf_counter() - started
        after = _counts(host)
        posted = after["requests"] - before["requests"]
        reached = after["recipients"] - before["recipients"]
        if posted != sender.requests or reached != n:
            raise RuntimeError(f"the stand-in got {posted} requests for {reached} recipients")
        return seconds

    try:
        build, post = alternate(payloads, sent)
    finally:
        server.terminate()
        server.wait()
    return [
        row(
            f"SendGrid payloads for {n:,} recipients, per-recipient values and tokens included",
            build,
            "s",
            digits=2,
            target=f"< {TARGET_S:g}" if n == 1_000_000 else f"< {TARGET_S * n / 1e6:g}",
            ok=build.median < TARGET_S * n / 1_000_000,
            note=f"CPU {statistics.median(cpu):.1f} s (min {min(cpu):.1f}, max {max(cpu):.1f}); "
            f"{request_bytes // 1024:,} KB per request of 1,000",
        ),
        row(
            f"SendGrid, {n:,} recipients sent: the same, every request posted to a local "
            "stand-in server",
            post,
            "s",
            digits=2,
            reference=f"payloads alone {build.median:.1f} s",
            ratio=post.median / build.median,
            note=f"{n // 1000:,} requests, {settings.sendgrid.concurrency} threads, "
            "the official client",
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        raise SystemExit("usage: python -m bench.bench_sendgrid serve")
