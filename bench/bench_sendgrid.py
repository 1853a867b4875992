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
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import alternate_all, row, size
from bench.fixtures import SECRET, SLUG, project

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.render.personalise import CompiledEdition
    from pipeline.sending.mime import MessageSkeleton
    from pipeline.sending.transports.base import Outgoing
    from pipeline.sending.transports.sendgrid import SendgridTransport

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


def _transport(settings: Settings, host: str) -> SendgridTransport:
    from pipeline.sending.transports.sendgrid import SendgridTransport

    cfg = settings.sendgrid
    return SendgridTransport(
        api_key="SG.bench",
        host=host,
        sender={"email": settings.sender.email, "name": settings.sender.name},
        per_request=cfg.batch_size,
        concurrency=cfg.concurrency,
        categories=cfg.categories,
    )


def _chunk(
    settings: Settings, skeleton: MessageSkeleton, web: str, start: int, stop: int
) -> list[Outgoing]:
    """The engine's hand-off for recipients ``start`` to ``stop``: values made per row."""
    from pipeline.sending.recipient_values import recipient_values
    from pipeline.sending.transports.base import Outgoing

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
        for i in range(start, stop)
    ]


def build(
    settings: Settings, skeleton: MessageSkeleton, web: str, host: str, start: int, stop: int
) -> tuple[int, int, int]:
    """The payloads for recipients ``start`` to ``stop``, CHUNK at a time as the engine
    hands them over: values, tokens, personalizations and the JSON text of each request as
    posted. Returns (requests, recipients in them, bytes of the last request)."""
    from pipeline.sending.transports.sendgrid import request_body

    sender = _transport(settings, host)
    requests = recipients = last = 0
    for first in range(start, stop, CHUNK):
        built, failures = sender.build_payloads(
            _chunk(settings, skeleton, web, first, min(first + CHUNK, stop))
        )
        bodies = [request_body(body).encode() for _, body in built]  # as posted
        assert not failures
        requests += len(bodies)
        recipients += sum(len(p.people) for _, p in built)
        last = len(bodies[-1])
    return requests, recipients, last


def worker(
    settings: Settings, compiled: CompiledEdition, host: str, start: int, stop: int
) -> tuple[int, int, float, float]:
    """One of the processes of the N-worker figure, started as ``send_with_workers``
    starts them (``workers._start_method``: fork on Linux, spawn elsewhere; it gets the
    settings pickled and the edition's compiled issue as the engine reads it): its
    skeleton and web URL, then its recipients. Returns (requests, recipients, the
    process's CPU seconds in all and those of its start-up: imports, arguments,
    skeleton)."""
    from pipeline.sending.mime import MessageSkeleton
    from pipeline.sending.recipient_values import web_url
    from pipeline.sending.workers import freeze_heap

    skeleton = MessageSkeleton(settings, compiled, slug=SLUG, lists=["beauty-tips"])
    web = web_url(settings, SLUG)
    freeze_heap()  # as a worker does before its work
    ready = time.process_time()
    requests, recipients, _ = build(settings, skeleton, web, host, start, stop)
    return requests, recipients, time.process_time(), ready


def run() -> list[dict[str, Any]]:
    from pipeline.config import load_settings
    from pipeline.render.build import build_issue
    from pipeline.sending.mime import MessageSkeleton
    from pipeline.sending.recipient_values import web_url
    from pipeline.sending.workers import _start_method, choose_workers

    n = size(1_000_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp) / "project")
        settings = load_settings(
            root / "newsletter.toml",
            {
                "NEWSLETTER_SECRET_KEY": SECRET,
                "SENDGRID_API_KEY": "SG.bench",
                "NEWSLETTER_TRANSPORT": "sendgrid",  # its default number of workers
            },
            root=root,
        )
        compiled = build_issue(settings, SLUG).compiled
    skeleton = MessageSkeleton(settings, compiled, slug=SLUG, lists=["beauty-tips"])
    web = web_url(settings, SLUG)
    workers = choose_workers(settings, None, n)  # what `issue send` starts for n
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_sendgrid", "serve"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    host = f"http://127.0.0.1:{int(server.stdout.readline())}"
    request_bytes = 0
    cpu: list[float] = []
    worker_cpu: list[float] = []
    busiest: list[float] = []  # the CPU of the process that used most
    startup: list[float] = []  # each process's start-up CPU

    def payloads() -> float:
        nonlocal request_bytes
        started, cpu_started = time.perf_counter(), time.process_time()
        requests, recipients, request_bytes = build(settings, skeleton, web, host, 0, n)
        seconds = time.perf_counter() - started
        cpu.append(time.process_time() - cpu_started)
        if recipients != n or requests != -(-n // settings.sendgrid.batch_size):
            raise RuntimeError(f"{requests} requests for {recipients} recipients")
        return seconds

    def parallel() -> float:
        bounds = [n * k // workers for k in range(workers + 1)]
        context = multiprocessing.get_context(_start_method())  # as send_with_workers
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(worker, settings, compiled, host, bounds[k], bounds[k + 1])
                for k in range(workers)
            ]
            results = [f.result() for f in futures]
        seconds = time.perf_counter() - started  # the last process has exited
        requests = sum(r[0] for r in results)
        recipients = sum(r[1] for r in results)
        worker_cpu.append(sum(r[2] for r in results))
        busiest.append(max(r[2] for r in results))
        startup.extend(r[3] for r in results)
        expected = sum(
            -(-min(CHUNK, bounds[k + 1] - s) // settings.sendgrid.batch_size)
            for k in range(workers)
            for s in range(bounds[k], bounds[k + 1], CHUNK)
        )
        if recipients != n or requests != expected:
            raise RuntimeError(
                f"{workers} workers: {requests} requests for {recipients} recipients"
            )
        return seconds

    def sent() -> float:
        sender = _transport(settings, host)
        before = _counts(host)
        started = time.perf_counter()
        for start in range(0, n, CHUNK):
            results = sender.send_batch(
                _chunk(settings, skeleton, web, start, min(start + CHUNK, n))
            )
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
        many, one, post = alternate_all([parallel, payloads, sent])
    finally:
        server.terminate()
        server.wait()
    target = TARGET_S * n / 1_000_000
    shown = f"< {target:g}"
    return [
        row(
            f"SendGrid payloads for {n:,} recipients with {workers} worker processes (the "
            "`issue send` default on this machine, N = os.cpu_count()), per-recipient values "
            f"and tokens included: wall time from starting the processes ({_start_method()}, as "
            f"`issue send` does) to the last one finishing; the target ({shown} s) is for this "
            "figure",
            many,
            "s",
            digits=2,
            target=shown,
            ok=many.median < target,
            reference=f"one process {one.median:.1f} s",
            ratio=many.median / one.median,
            note=f"CPU of the {workers} processes together {statistics.median(worker_cpu):.1f} s "
            f"(min {min(worker_cpu):.1f}, max {max(worker_cpu):.1f}), the busiest "
            f"{statistics.median(busiest):.1f} s, of which start-up "
            f"{statistics.median(startup):.2f} s (CPU since the process began); "
            f"{n // workers:,} recipients each",
        ),
        row(
            f"SendGrid payloads for {n:,} recipients in one process (the build alone, no "
            "process start), per-recipient values and tokens included",
            one,
            "s",
            digits=2,
            note=f"no target of its own: the {shown} s is for the {workers}-worker figure; "
            f"CPU {statistics.median(cpu):.1f} s (min {min(cpu):.1f}, max {max(cpu):.1f}); "
            f"{request_bytes // 1024:,} KB per request of 1,000",
        ),
        row(
            f"SendGrid, {n:,} recipients sent: the same, every request posted to a local "
            "stand-in server",
            post,
            "s",
            digits=2,
            reference=f"payloads alone {one.median:.1f} s",
            ratio=post.median / one.median,
            note=f"{n // 1000:,} requests, {settings.sendgrid.concurrency} threads, "
            "the official client, one process",
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        raise SystemExit("usage: python -m bench.bench_sendgrid serve")
