"""SMTP end to end, as users run it, against postfix's own client at the same layout.

    python -m bench smtp        # BENCH_DATABASE_URL=postgresql+psycopg://... adds PostgreSQL

Ours: ``newsletter issue send SLUG --yes`` (the command users run: build, checks, freeze,
audience snapshot into the ledger, message building, 8 SMTP sessions kept open, every
answer recorded) with default settings but the relay's port, into postfix's ``smtp-sink``:
one process holding all 8 sessions (``--workers 1``, the default for SMTP), and one worker
process per CPU sharing them (``--workers N``). Beside each, the sending phase of the same
runs, read from the ledger: the first claim to the last answer written (message building,
SMTP and ledger writes; not the start-up, build, checks and snapshot before it). The
reference: ``smtp-source -d -s 8``
(sessions kept open and reused, as ours are: ``-d``) sending the same number of messages
of the same size to the same sink. The three alternate, 3 times each; the ratios are of
the medians. Goal: at least 0.8. Our command runs with Python's bytecode cached, after one
untimed send, as `bench startup` runs its commands (`bench.fixtures.cached_bytecode`).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Series, alternate_all, row, size
from bench.fixtures import (
    PG_URL,
    SECRET,
    SLUG,
    count_sent,
    env,
    fill_audience,
    free_port,
    project,
    smtp_sink,
)

SESSIONS = 8
CPUS = os.cpu_count() or 1
GOAL = 0.8


def _message_size(root: Path) -> int:
    from pipeline.config import load_settings
    from pipeline.render.build import build_issue
    from pipeline.sending.mime import MessageSkeleton
    from pipeline.sending.recipient_values import recipient_values

    settings = load_settings(root / "newsletter.toml", {"NEWSLETTER_SECRET_KEY": SECRET}, root=root)
    compiled = build_issue(settings, SLUG).compiled
    skeleton = MessageSkeleton(settings, compiled, slug=SLUG, lists=["beauty-tips"])
    values = recipient_values(
        settings, "0123456789abcdef0123456789abcdef", "reader12345@example.org", "Reader 12345", 1
    )
    return len(skeleton.build("reader12345@example.org", "Reader 12345", values))


def sending_seconds(url: str) -> float:
    """The sending phase of the last run, from the ledger: the first claim to the last
    answer written."""
    from sqlalchemy import create_engine, func, select

    from pipeline.store.tables import deliveries

    engine = create_engine(url)
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(deliveries.c.claimed_at), func.max(deliveries.c.updated_at))
        ).one()
    engine.dispose()
    return float((last - first).total_seconds())


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run() -> list[dict[str, Any]]:
    n = size(20_000, 5_000)
    newsletter = str(Path(sys.executable).parent / "newsletter")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        root = project(
            Path(tmp) / "project",
            f"[smtp]\nport = {port}\nconnections = {SESSIONS}\n",
        )
        pycache = Path(tmp) / "pycache"
        msg_size = _message_size(root)

        def send(url: str, recipients: int, more: tuple[str, ...] = ()) -> float:
            """``issue send`` to a fresh audience of ``recipients``: the seconds of the
            command (the audience's filling not counted)."""
            fill_audience(url, recipients)
            shutil.rmtree(root / "var", ignore_errors=True)
            started = time.perf_counter()
            subprocess.run(
                [newsletter, "issue", "send", SLUG, "--yes", *more],
                cwd=root,
                env=env(url, pycache=pycache, NEWSLETTER_TRANSPORT="smtp"),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            return time.perf_counter() - started

        sink = smtp_sink(port)
        try:
            ledgers = [("SQLite", f"sqlite:///{tmp}/bench.db")]
            if PG_URL:
                ledgers.append(("PostgreSQL", PG_URL))
            else:
                print("   (PostgreSQL not measured: set BENCH_DATABASE_URL)", flush=True)
            for label, url in ledgers:
                # One untimed send of a few messages first: the bytecode of everything the
                # command imports is then cached, as it is for users after their first run.
                send(url, 10)
                cpu: list[float] = []
                cpu_one: list[float] = []
                phase: Series = Series()
                phase_one: Series = Series()

                def ours(
                    url: str = url,
                    cpu: list[float] = cpu,
                    more: tuple[str, ...] = (),
                    phase: Series = phase,
                ) -> float:
                    before = _cpu_children()
                    seconds = send(url, n, more)
                    cpu.append(_cpu_children() - before)
                    sent = count_sent(url)
                    if sent != n:
                        raise RuntimeError(f"only {sent} of {n} sent")
                    phase.add(n / sending_seconds(url))
                    return n / seconds

                def reference() -> float:
                    started = time.perf_counter()
                    subprocess.run(
                        [
                            "/usr/sbin/smtp-source",
                            "-d",
                            "-s",
                            str(SESSIONS),
                            "-l",
                            str(msg_size),
                            "-m",
                            str(n),
                            "-f",
                            "hello@glownotes.example.com",
                            "-t",
                            "reader@example.org",
                            f"127.0.0.1:{port}",
                        ],
                        check=True,
                        stdout=subprocess.DEVNULL,
                    )
                    return n / (time.perf_counter() - started)

                mine, single, theirs = alternate_all(
                    [
                        lambda url=url, c=cpu, p=phase: ours(url, c, ("--workers", str(CPUS)), p),  # type: ignore[misc]
                        lambda url=url, c=cpu_one, p=phase_one: ours(  # type: ignore[misc]
                            url, c, ("--workers", "1"), p
                        ),
                        reference,
                    ]
                )
                reference_text = (
                    f"smtp-source -d -s {SESSIONS}: {theirs.median:,.0f} msg/s ({theirs.spread()})"
                )
                for series, cpus, how, sending in [
                    (mine, cpu, f"--workers {CPUS}", phase),
                    (single, cpu_one, "--workers 1, the default", phase_one),
                ]:
                    ratio = series.median / theirs.median
                    rows.append(
                        row(
                            f"SMTP `issue send` ({how}), {n:,} messages of {msg_size:,} bytes,"
                            f" {SESSIONS} sessions, {label} ledger",
                            series,
                            "msg/s",
                            reference=reference_text,
                            ratio=ratio,
                            target=f"ratio >= {GOAL}",
                            ok=ratio >= GOAL,
                            note=f"CPU {Series(cpus).median:.1f} s (all processes) "
                            f"for {n / series.median:.1f} s wall",
                        )
                    )
                    rows.append(
                        row(
                            f"SMTP sending phase of the same runs ({how}, {label} ledger): "
                            "first claim to last answer written (messages built, sent and "
                            "recorded; not the start-up, build, checks and audience snapshot "
                            "before it)",
                            sending,
                            "msg/s",
                            reference=reference_text,
                            ratio=sending.median / theirs.median,
                        )
                    )
        finally:
            sink.terminate()
            sink.wait()
    return rows
