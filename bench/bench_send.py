"""Sending benchmarks (`python -m bench send`); SMTP and SendGrid have their own modules.

- personalisation: complete MIME messages per second on one core from the compiled sample
  edition (values with two signed tokens + the skeleton join), alternated with the naive
  way (a new ``email.message.EmailMessage`` per recipient), 3 times each;
- peak RSS of a process sending an edition to 1,000,000 recipients (SQLite ledger, the
  messages built and dropped by a null transport), measured in a subprocess (its VmHWM), 3
  times.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from bench.common import Series, alternate, peak_rss_mb, repeat, row, size
from bench.fixtures import copy_folders, fill_audience
from pipeline.clock import FixedClock
from pipeline.config import Settings, load_settings
from pipeline.render.build import build_issue
from pipeline.render.personalise import CompiledEdition
from pipeline.sending.editions import store_edition
from pipeline.sending.engine import send_edition
from pipeline.sending.mime import MessageSkeleton
from pipeline.sending.recipient_values import recipient_values
from pipeline.sending.transports.base import OnResults, Outgoing, Result, Transport
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
    n = size(50_000, 10_000)
    naive_n = size(2_000, 500)
    sizes: list[int] = []

    def fast() -> float:
        started = time.perf_counter()
        total = 0
        for i in range(n):
            email = f"reader{i}@example.org"
            values = recipient_values(settings, f"{i:032x}", email, "Zoë Example", 1)
            total += len(skeleton.build(email, "Zoë Example", values))
        sizes.append(total // n)
        return n / (time.perf_counter() - started)

    def naive() -> float:
        started = time.perf_counter()
        for i in range(naive_n):
            email = f"reader{i}@example.org"
            values = recipient_values(settings, f"{i:032x}", email, "Zoë Example", 1)
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
        return naive_n / (time.perf_counter() - started)

    ours, reference = alternate(fast, naive)
    return [
        row(
            "personalised MIME messages per second (one core)",
            ours,
            "msg/s",
            target=">= 20000",
            ok=ours.median >= 20_000,
            reference=f"a new EmailMessage per recipient {reference.median:,.0f} msg/s",
            ratio=ours.median / reference.median,
            note=f"{sizes[0]:,} bytes each, two tokens signed per recipient",
        )
    ]


# ---- peak RSS ------------------------------------------------------------------------------
class NullTransport(Transport):
    """Builds every message (as SMTP or Maildir would) and drops it."""

    name = "null"
    batch_size = 5000

    def send_batch(
        self, messages: Sequence[Outgoing], on_results: OnResults | None = None
    ) -> list[Result]:
        results = [Result("sent", provider_id=str(len(m.data))) for m in messages]
        if on_results is not None:
            on_results(list(enumerate(results)))
        return results


def _rss_child(root: str, count: int) -> None:
    settings = _settings(
        Path(root),
        **{"database.url": f"sqlite:///{root}/rss.db", "sending.batch_size": 5000},
    )
    engine = open_database(settings.database_url)
    with engine.connect() as conn:
        eid = int(conn.exec_driver_sql("SELECT id FROM editions").scalar_one())
    before = peak_rss_mb()
    started = time.perf_counter()
    report = send_edition(settings, engine, eid, transport=NullTransport(), clock=FixedClock())
    elapsed = time.perf_counter() - started
    peak = peak_rss_mb()  # VmHWM: ru_maxrss would hold the bench process's own peak
    print(json.dumps({"sent": report.sent, "peak_mb": peak, "before_mb": before, "s": elapsed}))


def bench_rss(root: Path, compiled: CompiledEdition) -> list[dict[str, Any]]:
    n = size(1_000_000, 100_000)
    settings = _settings(root, **{"database.url": f"sqlite:///{root}/rss.db"})
    fill_audience(settings.database_url, n)
    engine = open_database(settings.database_url)
    store_edition(engine, SLUG, compiled, lists=["beauty-tips"], content_hash="0" * 64)
    engine.dispose()
    template = (root / "rss.db").read_bytes()
    rates = Series()
    sent: list[int] = []

    def once() -> float:
        (root / "rss.db").write_bytes(template)
        for suffix in ("-wal", "-shm"):
            (root / f"rss.db{suffix}").unlink(missing_ok=True)
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
        sent.append(data["sent"])
        rates.add(data["sent"] / data["s"])
        return float(data["peak_mb"])

    peak = repeat(once)
    return [
        row(
            f"peak RSS sending to {n:,} recipients",
            peak,
            "MB",
            digits=1,
            target="< 200",
            ok=peak.high < 200 and all(s == n for s in sent),
            note=f"{rates.median:,.0f} messages built per second (SQLite ledger, null transport);"
            " VmHWM of the sending process",
        )
    ]


def run() -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-send-"))
    try:
        copy_folders(tmp)
        settings = _settings(tmp)
        compiled = _compiled(settings)
        rows = bench_personalise(settings, compiled)
        rows += bench_rss(tmp, compiled)
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
