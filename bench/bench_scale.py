"""A large send on PostgreSQL with 1, 2 and 4 worker processes (``SKIP LOCKED`` claims).

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/nl_bench python -m bench scale

For each transport (a null transport that builds every complete message and drops it, and
SMTP into postfix's ``smtp-sink`` with 8 sessions shared out among the workers) and each
worker count, the audience (1,000,000; 20,000 with BENCH_QUICK) is snapshotted into the
ledger first (timed apart), then N processes run ``send_edition`` on the edition at once,
claiming batches (BENCH_SCALE_N=200000 sets another size). Reported: messages per second
from the first worker's start to the last one's end, and the largest peak RSS of one
worker (its VmHWM, not ru_maxrss, which holds the bench process's peak). Adding workers
adds throughput until the CPU (2 cores here) or the relay is the limit. Skipped without
BENCH_DATABASE_URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import REPS, Series, peak_rss_mb, repeat, row, size
from bench.fixtures import PG_URL, REPO, SECRET, SLUG, fill_audience, free_port, project, smtp_sink

WORKERS = (1, 2, 4)
SESSIONS = 8


def _settings(root: Path, url: str, port: int, workers: int) -> Any:
    from pipeline.config import load_settings

    return load_settings(
        root / "newsletter.toml",
        {"NEWSLETTER_SECRET_KEY": SECRET},
        root=root,
        overrides={
            "database.url": url,
            "sending.transport": "smtp",
            "smtp.port": port,
            "smtp.connections": max(1, SESSIONS // workers),
        },
    )


def worker(root: str, url: str, port: int, workers: int, transport: str) -> None:
    """One worker process (``python -m bench.bench_scale worker ...``): prints its figures."""
    from pipeline.clock import FixedClock
    from pipeline.sending.engine import send_edition
    from pipeline.sending.transports.base import OnResults, Outgoing, Result, Transport
    from pipeline.store.db import open_database

    class NullTransport(Transport):
        name = "null"
        batch_size = 500

        def send_batch(
            self, messages: Sequence[Outgoing], on_results: OnResults | None = None
        ) -> list[Result]:
            results = [Result("sent", provider_id=str(len(m.data))) for m in messages]
            if on_results is not None:
                on_results(list(enumerate(results)))
            return results

    settings = _settings(Path(root), url, port, workers)
    engine = open_database(url)
    with engine.connect() as conn:
        eid = int(conn.exec_driver_sql("SELECT id FROM editions").scalar_one())
    started = time.perf_counter()
    report = send_edition(
        settings,
        engine,
        eid,
        transport=NullTransport() if transport == "null" else None,
        clock=FixedClock(),
    )
    peak_mb = peak_rss_mb()  # VmHWM: ru_maxrss would hold the bench process's own peak
    seconds = time.perf_counter() - started
    print(json.dumps({"sent": report.sent, "peak_mb": peak_mb, "seconds": seconds}))


def _prepare(root: Path, url: str, n: int) -> float:
    """A fresh audience and a frozen edition, snapshotted into the ledger: seconds taken by
    the snapshot alone (both of its parts: ``issue send`` adds the second beside the first
    messages, which would count it in the sending here)."""
    from pipeline.clock import SystemClock
    from pipeline.config import load_settings
    from pipeline.render.build import build_issue
    from pipeline.sending import ledger
    from pipeline.sending.editions import store_edition
    from pipeline.store.db import open_database

    fill_audience(url, n)
    settings = load_settings(root / "newsletter.toml", {"NEWSLETTER_SECRET_KEY": SECRET}, root=root)
    engine = open_database(url)
    compiled = build_issue(settings, SLUG).compiled
    eid = store_edition(engine, SLUG, compiled, lists=["beauty-tips"], content_hash="0" * 64)
    started = time.perf_counter()
    ledger.start_edition(engine, eid, ["beauty-tips"], SystemClock().now(), "bench")
    ledger.complete_snapshot(engine, eid)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def run() -> list[dict[str, Any]]:
    if not PG_URL.startswith("postgresql"):
        print("   (skipped: set BENCH_DATABASE_URL to a PostgreSQL database of its own)")
        return []
    # BENCH_SCALE_N sets another size (every run fills and snapshots it anew: at 1,000,000
    # the whole suite takes about an hour on 2 cores).
    n = int(os.environ.get("BENCH_SCALE_N") or size(1_000_000, 20_000))
    # BENCH_SCALE_REPS=1: one run of each (at 1,000,000, three of each take over an hour);
    # the rows then say "one run".
    reps = int(os.environ.get("BENCH_SCALE_REPS") or REPS)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp) / "project")
        port = free_port()
        sink = smtp_sink(port)
        try:
            for transport in ("null", "smtp"):
                for count in WORKERS:
                    snapshots = Series()
                    peaks = Series()

                    def once(
                        count: int = count,
                        transport: str = transport,
                        snapshots: Series = snapshots,
                        peaks: Series = peaks,
                    ) -> float:
                        snapshots.add(_prepare(root, PG_URL, n))
                        started = time.perf_counter()
                        procs = [
                            subprocess.Popen(
                                [
                                    sys.executable,
                                    "-m",
                                    "bench.bench_scale",
                                    "worker",
                                    str(root),
                                    PG_URL,
                                    str(port),
                                    str(count),
                                    transport,
                                ],
                                cwd=REPO,
                                stdout=subprocess.PIPE,
                                text=True,
                            )
                            for _ in range(count)
                        ]
                        outs = [
                            json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs
                        ]
                        seconds = time.perf_counter() - started
                        sent = sum(o["sent"] for o in outs)
                        if sent != n:
                            raise RuntimeError(f"{sent} of {n} sent with {count} workers")
                        peaks.add(max(o["peak_mb"] for o in outs))
                        return n / seconds

                    rates = repeat(once, reps)
                    what = (
                        "null transport"
                        if transport == "null"
                        else f"smtp-sink, {SESSIONS} sessions"
                    )
                    rows.append(
                        row(
                            f"PostgreSQL send of {n:,}, {what}, {count} worker(s)"
                            + (" (one run)" if reps == 1 else ""),
                            rates,
                            "msg/s",
                            note=f"peak RSS per worker {peaks.median:.0f} MB; audience "
                            f"snapshot {snapshots.median:.1f} s before (not counted)",
                        )
                    )
        finally:
            sink.terminate()
            sink.wait()
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        root_, url_, port_, workers_, transport_ = sys.argv[2:7]
        worker(root_, url_, int(port_), int(workers_), transport_)
    else:
        raise SystemExit("usage: python -m bench.bench_scale worker ROOT URL PORT N null|smtp")
