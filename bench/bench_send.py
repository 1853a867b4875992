"""Sending benchmarks, each measured in one run (`python -m bench send`).

- personalisation: complete MIME messages per second on one core from the compiled sample
  edition (values with two signed tokens + the skeleton join), against the naive way (a new
  ``email.message.EmailMessage`` per recipient);
- SMTP end to end: ``send_edition`` (ledger in SQLite, 8 connections) into postfix's
  ``smtp-sink``, against postfix's ``smtp-source`` with the same number of sessions and
  the same message size (a ratio);
- SendGrid: payloads (personalizations + JSON) for 1,000,000 recipients, built, then
  posted to a local HTTP server that answers 202;
- peak RSS of a process sending an edition to 1,000,000 recipients (SQLite ledger, the
  messages built and dropped by a null transport), measured in a subprocess.
"""

from __future__ import annotations

import http.server
import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from pipeline.clock import FixedClock
from pipeline.config import Settings, load_settings
from pipeline.render.build import build_issue
from pipeline.render.personalise import CompiledEdition
from pipeline.sending.editions import store_edition
from pipeline.sending.engine import send_edition
from pipeline.sending.mime import MessageSkeleton
from pipeline.sending.recipient_values import recipient_values
from pipeline.sending.transports.base import Outgoing, Result, Transport
from pipeline.sending.transports.sendgrid import SendgridTransport
from pipeline.store.db import open_database

REPO = Path(__file__).resolve().parent.parent
SLUG = "2026-12-01-microneedling"
SESSIONS = 8
PROCESSES = 2  # send_edition processes sharing the edition; SESSIONS connections in all


def _settings(root: Path, **overrides: Any) -> Settings:
    env = {"NEWSLETTER_SECRET_KEY": "bench-secret-key-0123456789-0123456789"}
    return load_settings(REPO / "newsletter.toml", env, root=root, overrides=overrides)


def _compiled(settings: Settings) -> CompiledEdition:
    return build_issue(settings, SLUG).compiled


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- personalisation ---------------------------------------------------------------------
def bench_personalise(settings: Settings, compiled: CompiledEdition) -> list[dict[str, Any]]:
    skeleton = MessageSkeleton(settings, compiled, slug=SLUG, lists=["beauty-tips"])
    n = 50_000
    started = time.perf_counter()
    size = 0
    for i in range(n):
        email = f"reader{i}@example.org"
        values = recipient_values(settings, i, email, "Zoë Example", 1)
        size += len(skeleton.build(email, "Zoë Example", values))
    fast = n / (time.perf_counter() - started)

    naive_n = 1_000
    started = time.perf_counter()
    for i in range(naive_n):
        email = f"reader{i}@example.org"
        values = recipient_values(settings, i, email, "Zoë Example", 1)
        parts = compiled.personalise(values)
        msg = EmailMessage()
        msg["From"] = f"{settings.sender.name} <{settings.sender.email}>"
        msg["To"] = f"Zoë Example <{email}>"
        msg["Subject"] = parts.subject
        msg["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(parts.text)
        msg.add_alternative(parts.html, subtype="html")
        msg.as_bytes()
    naive = naive_n / (time.perf_counter() - started)
    return [
        {
            "name": "personalised MIME messages per second (one core)",
            "value": round(fast),
            "unit": "msg/s",
            "target": ">= 20000",
            "ok": fast >= 20_000,
            "note": f"{size // n:,} bytes each, tokens signed per recipient",
        },
        {
            "name": "naive EmailMessage per recipient",
            "value": round(naive),
            "unit": "msg/s",
            "target": None,
            "ok": None,
            "note": f"skeleton is {fast / naive:.0f}x faster",
        },
    ]


# ---- SMTP into smtp-sink -------------------------------------------------------------------
def _sink(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["/usr/sbin/smtp-sink", "-c", "-u", "postfix", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("smtp-sink did not start")


def _audience(engine: Any, count: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO lists (slug, name, description, double_opt_in, created_at) "
            "VALUES ('beauty-tips', 'Beauty tips', '', 1, '2026-01-01 00:00:00')"
        )
        conn.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO subscribers (email, name, attributes, status, created_at, updated_at) "
            "SELECT 'reader' || i || '@example.org', 'Reader ' || i, '{}', 'active', "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM n",
            (count,),
        )
        conn.exec_driver_sql(
            "INSERT INTO subscriptions (subscriber_id, list_id, status, consent_method, "
            "consent_text, updated_at) SELECT id, 1, 'confirmed', 'import', '', "
            "'2026-01-01 00:00:00' FROM subscribers"
        )


def _smtp_child(root: str, port: int) -> None:
    settings = _settings(
        Path(root),
        **{
            "database.url": f"sqlite:///{root}/smtp.db",
            "sending.transport": "smtp",
            "smtp.port": port,
            "smtp.connections": SESSIONS // PROCESSES,
            "sending.batch_size": 1000,
        },
    )
    engine = open_database(settings.database_url)
    with engine.connect() as conn:
        eid = int(conn.exec_driver_sql("SELECT id FROM editions").scalar_one())
    send_edition(settings, engine, eid)


def bench_smtp(root: Path, compiled: CompiledEdition) -> list[dict[str, Any]]:
    n = 20_000
    port = _free_port()
    sink = _sink(port)
    try:
        settings = _settings(
            root,
            **{
                "database.url": f"sqlite:///{root / 'smtp.db'}",
                "sending.transport": "smtp",
                "smtp.port": port,
                "smtp.connections": SESSIONS,
                "sending.batch_size": 2000,
            },
        )
        engine = open_database(settings.database_url)
        _audience(engine, n)
        store_edition(engine, SLUG, compiled, lists=["beauty-tips"], content_hash="0" * 64)
        skeleton = MessageSkeleton(settings, compiled, slug=SLUG)
        size = len(skeleton.build("reader1@example.org", "Reader 1", {}))
        engine.dispose()
        started = time.perf_counter()
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    f"from bench.bench_send import _smtp_child; _smtp_child({str(root)!r}, {port})",
                ],
                cwd=REPO,
            )
            for _ in range(PROCESSES)
        ]
        for worker in workers:
            worker.wait()
        ours = n / (time.perf_counter() - started)
        engine = open_database(settings.database_url)
        with engine.connect() as conn:
            query = "SELECT count(*) FROM deliveries WHERE status = 'sent'"
            sent = int(conn.exec_driver_sql(query).scalar_one())
        assert sent == n, f"only {sent} of {n} sent"
        started = time.perf_counter()
        subprocess.run(
            [
                "/usr/sbin/smtp-source",
                "-s",
                str(SESSIONS),
                "-l",
                str(size),
                "-m",
                str(n),
                "-c",
                "-f",
                "hello@glownotes.example.com",
                "-t",
                "reader@example.org",
                f"127.0.0.1:{port}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        theirs = n / (time.perf_counter() - started)
    finally:
        sink.terminate()
        sink.wait()
    ratio = ours / theirs
    return [
        {
            "name": f"SMTP end to end into smtp-sink ({PROCESSES} processes x "
            f"{SESSIONS // PROCESSES} connections, ledger in SQLite)",
            "value": round(ours),
            "unit": "msg/s",
            "target": None,
            "ok": None,
            "note": f"{n:,} messages of {size:,} bytes",
        },
        {
            "name": "smtp-source, 8 sessions, same size",
            "value": round(theirs),
            "unit": "msg/s",
            "target": None,
            "ok": None,
        },
        {
            "name": "SMTP rate relative to smtp-source",
            "value": round(ratio, 2),
            "unit": "ratio",
            "target": ">= 0.8",
            "ok": ratio >= 0.8,
        },
    ]


# ---- SendGrid payloads ---------------------------------------------------------------------
class _Accept(http.server.BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        type(self).received += 1
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def bench_sendgrid(settings: Settings, compiled: CompiledEdition) -> list[dict[str, Any]]:
    n = 1_000_000
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host = f"http://127.0.0.1:{server.server_address[1]}"
    transport = SendgridTransport(
        api_key="SG.bench",
        host=host,
        sender={"email": settings.sender.email, "name": settings.sender.name},
        categories=["newsletter"],
    )
    skeleton = MessageSkeleton(settings, compiled, slug=SLUG)
    values_time = build_time = 0.0
    payloads: list[bytes] = []
    post_time = 0.0
    for start in range(0, n, 10_000):
        t0 = time.perf_counter()
        messages = [
            Outgoing(
                skeleton,
                f"reader{i}@example.org",
                f"Reader {i}",
                recipient_values(settings, i, f"reader{i}@example.org", f"Reader {i}", 1),
                skeleton.new_message_id(),
                i,
            )
            for i in range(start, start + 10_000)
        ]
        t1 = time.perf_counter()
        requests, _ = transport.build_payloads(messages)
        payloads = [json.dumps(body).encode() for _, body in requests]
        t2 = time.perf_counter()
        values_time += t1 - t0
        build_time += t2 - t1
        if start == 0:  # post the first 10 requests through the official client
            t3 = time.perf_counter()
            for _, body in requests:
                transport._client().post(request_body=body)
            post_time = (time.perf_counter() - t3) / len(requests)
    server.shutdown()
    server.server_close()
    total = values_time + build_time
    return [
        {
            "name": "SendGrid payloads for 1,000,000 recipients: build (dicts + JSON)",
            "value": round(build_time, 2),
            "unit": "s",
            "target": "< 10",
            "ok": build_time < 10,
            "note": f"plus {values_time:.1f} s for per-recipient values (signed tokens); "
            f"{total:.1f} s together; {len(payloads[0]) // 1024:,} KB per request",
        },
        {
            "name": "SendGrid request of 1,000 personalizations posted to a local server",
            "value": round(post_time * 1000, 1),
            "unit": "ms",
            "target": None,
            "ok": None,
            "note": f"{n // 1000:,} requests: about {n / 1000 * post_time:.0f} s on one thread",
        },
    ]


# ---- peak RSS ------------------------------------------------------------------------------
class NullTransport(Transport):
    """Builds every message (as SMTP or Maildir would) and drops it."""

    name = "null"
    batch_size = 5000

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Result]:
        return [Result("sent", provider_id=str(len(m.data))) for m in messages]


def _rss_child(root: str, count: int) -> None:
    settings = _settings(
        Path(root),
        **{"database.url": f"sqlite:///{root}/rss.db", "sending.batch_size": 5000},
    )
    engine = open_database(settings.database_url)
    with engine.connect() as conn:
        eid = int(conn.exec_driver_sql("SELECT id FROM editions").scalar_one())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = send_edition(settings, engine, eid, transport=NullTransport(), clock=FixedClock())
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"sent": report.sent, "peak_kb": peak, "before_kb": before, "s": elapsed}))


def bench_rss(root: Path, compiled: CompiledEdition) -> list[dict[str, Any]]:
    n = 1_000_000
    settings = _settings(root, **{"database.url": f"sqlite:///{root}/rss.db"})
    engine = open_database(settings.database_url)
    _audience(engine, n)
    store_edition(engine, SLUG, compiled, lists=["beauty-tips"], content_hash="0" * 64)
    engine.dispose()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from bench.bench_send import _rss_child; _rss_child({str(root)!r}, {n})",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    peak_mb = data["peak_kb"] / 1024
    return [
        {
            "name": "peak RSS sending to 1,000,000 recipients",
            "value": round(peak_mb, 1),
            "unit": "MB",
            "target": "< 200",
            "ok": peak_mb < 200 and data["sent"] == n,
            "note": f"{data['sent']:,} messages built in {data['s']:.0f} s "
            f"({data['sent'] / data['s']:,.0f}/s, SQLite ledger, null transport)",
        }
    ]


def run() -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-send-"))
    try:
        for name in ("templates", "issues"):
            shutil.copytree(REPO / name, tmp / name)
        settings = _settings(tmp)
        compiled = _compiled(settings)
        rows = bench_personalise(settings, compiled)
        rows += bench_smtp(tmp, compiled)
        rows += bench_sendgrid(settings, compiled)
        rows += bench_rss(tmp, compiled)
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
