"""Send one edition with several worker processes on this machine.

Building messages and talking SMTP is CPU work in Python, so one process uses one core at
most. ``send_with_workers`` starts N processes, each running ``send_edition`` on the same
edition: each claims its own batches from the ledger (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, one writer at a time on SQLite), so no recipient is sent twice, and the last
one to find nothing left marks the edition sent. The same holds for workers on several
machines against one PostgreSQL (docs/scaling.md): this module only saves starting them
by hand.

The SMTP connections (``smtp.connections``) are shared out among the workers, so N
workers hold as many sessions to the relay as one process would.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import socket
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.sending import ledger
from pipeline.sending.editions import edition_by_id
from pipeline.sending.engine import SendReport, send_edition, snapshot_plan
from pipeline.store.db import open_database

# Below this many recipients a second process costs more than it saves.
PER_WORKER = 10_000


def choose_workers(settings: Settings, requested: int | None, todo: int | Callable[[], int]) -> int:
    """The number of worker processes: ``requested`` (or ``sending.workers``) when set;
    else one for SMTP, and for the other transports one per CPU, but no more than one per
    PER_WORKER recipients to send (``todo``, or how to count them: counted only then).

    SMTP gets one by measurement (bench/results.md): one process drives all the
    connections from one thread at about 0.2 ms of CPU a 60 KB message, less than the
    relay takes to receive it; a second worker on a 2-core machine with the relay beside
    it made 20,000 messages slower on SQLite and on PostgreSQL (0.81 and 0.64 of
    ``smtp-source -d``, against 0.84 and 0.72 with one), its CPU taken from the relay.
    ``--workers`` still starts more (a remote relay, more cores)."""
    wanted = requested if requested is not None else settings.sending.workers
    if wanted:
        return max(1, wanted)
    if settings.sending.transport == "smtp":
        return 1
    left = todo() if callable(todo) else todo
    return max(1, min(os.cpu_count() or 1, math.ceil(left / PER_WORKER)))


def _start_method() -> str:
    """``fork`` on Linux: a worker starts with the modules this process has imported (a
    spawned one imported them again: 0.6-0.8 s of CPU per worker before its first message,
    measured here); ``spawn`` elsewhere. The parent holds no database connection at the
    fork (its pool is disposed first) and each worker opens its own."""
    if sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _share(settings: Settings, workers: int) -> Settings:
    """The settings for one of ``workers`` workers: its part of the SMTP connections."""
    connections = max(1, math.ceil(settings.smtp.connections / workers))
    smtp = settings.smtp.model_copy(update={"connections": connections})
    return settings.model_copy(update={"smtp": smtp})


def freeze_heap() -> None:
    """Put every object made so far (the imported modules, the settings, the database
    engine) out of the cycle collector's reach for the rest of this process, so that its
    full passes during the send walk only what the send makes. For a process that ends
    when its send does (a worker): frozen objects are never collected, so not for one
    that goes on (the scheduler, ``issue send`` run in a test's process).

    Measured on the shared 2-core machine (2026-12-01), building SendGrid payloads for
    300,000 recipients after the imports: the full collections took 0.23-0.31 s of CPU
    without it and 0.014-0.018 s with it (about 0.8 us a recipient saved).
    """
    gc.freeze()


def _work(settings: Settings, edition_id: int, clock: Clock | None) -> SendReport:
    """One worker process: send what it can claim; its report."""
    engine = open_database(settings.database_url)
    freeze_heap()  # after the imports and the engine, before the work
    try:
        report = send_edition(settings, engine, edition_id, clock=clock)
    finally:
        engine.dispose()
    return report


def send_with_workers(
    settings: Settings,
    edition_id: int,
    workers: int,
    *,
    clock: Clock | None = None,
    progress: Callable[[SendReport], None] | None = None,
    poll: float = 0.5,
) -> SendReport:
    """Send ``edition_id`` with ``workers`` processes; one report adding up theirs.

    ``progress`` is called every ``poll`` seconds with the ledger's counts so far. A worker
    that fails (the relay refuses the login, the database goes away) stops the others'
    claiming only through the ledger: its error is raised here once all have returned.
    """
    engine = open_database(settings.database_url)
    edition = edition_by_id(engine, edition_id)
    if edition.status in ("frozen", "scheduled"):  # snapshot once, not in every worker
        started = (clock or SystemClock()).now()
        ledger.start_edition(
            engine,
            edition_id,
            edition.lists,
            started,
            _name(),
            edition.segment_condition,
            snapshot_plan(settings, edition),
        )
    before = ledger.count_by_status(engine, edition_id)
    shared = _share(settings, workers)
    fixed = None if isinstance(clock, SystemClock) else clock
    engine.dispose()  # no pooled connection is shared with a forked worker
    context = multiprocessing.get_context(_start_method())
    total = SendReport(edition_id, "")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_work, shared, edition_id, fixed) for _ in range(workers)]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=poll, return_when=FIRST_EXCEPTION)
            if progress is not None:
                now = ledger.count_by_status(engine, edition_id)
                total.sent = now["sent"] - before["sent"]
                total.failed = now["failed"] - before["failed"]
                total.skipped = now["skipped"] - before["skipped"]
                progress(total)
        reports = [f.result() for f in futures]  # raises a worker's error
    status = edition_by_id(engine, edition_id).status  # the last worker marked it sent
    engine.dispose()
    first = reports[0]
    total = SendReport(edition_id, first.slug, transport=first.transport)
    for report in reports:
        for name in ("sent", "failed", "retried", "uncertain", "skipped", "attempts"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.pause_reason = total.pause_reason or report.pause_reason
        total.already_sent = total.already_sent or report.already_sent
    total.total = max(r.total for r in reports)
    total.transport = f"{first.transport} ({workers} workers)"
    total.status = status
    return total
