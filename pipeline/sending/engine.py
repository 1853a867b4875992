"""The sending engine: snapshot the audience, claim batches, send, record every answer.

Safe to run in several processes on one edition at once: each claims its own batches
(``send_claims`` is the claim loop any number of processes may run). While a run sends,
a heartbeat thread renews its claim every quarter of ``sending.claim_lease_seconds``, so
a slow relay never lets another run take over live rows. Answers are written as they
come, in slices of at most one answer per connection (or a quarter second), not once per
batch; and batches follow each other in one conversation with the transport, which
never drains between them while every answer is good. A crash leaves ``pending`` rows
(sent by the next run) and ``in_flight`` rows whose fate is unknown: a later run
reclaims them once their heartbeat has stopped for a lease, and ``issue resume`` at once
(``reclaim_in_flight``); they are resent, so a kill -9
duplicates at most the messages on the wire plus the answers of the last slice, and
never loses one. An answer that never came after the message went out (a timeout after
SMTP DATA, a lost HTTP reply) makes the row ``uncertain``: not resent by itself
(``issue retry-failed --uncertain`` does), and counted in every report.

An exception from the transport that is not a recipient's problem never leaves a batch in
flight while the process lives: a ``TransportError`` gives the unsent rows back and
stops; anything else also gives them back and pauses the edition with the reason.

Transient failures go back to ``pending`` with ``next_attempt_at`` (exponential backoff
with jitter) until ``sending.max_attempts``; permanent ones are ``failed`` at once. Past
``sending.pause_error_rate`` (after ``pause_min_sample`` attempts) the edition pauses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError

from pipeline.bounces.verp import verp_address
from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.errors import PersonalisationError, SendError, StoreError, TransportError
from pipeline.sending import ledger
from pipeline.sending.abtest import ab_state, decide_if_due
from pipeline.sending.addresses import wire_address
from pipeline.sending.audience import require_audience
from pipeline.sending.dkim import make_signer
from pipeline.sending.editions import Edition, edition_by_id, edition_variants_of, transition
from pipeline.sending.localtime import parse_local
from pipeline.sending.mime import MAILTO_KEY, MessageSkeleton
from pipeline.sending.ratelimit import TokenBucket
from pipeline.sending.recipient_values import recipient_values, web_url
from pipeline.sending.transports import get_transport
from pipeline.sending.transports.base import Outgoing, Result, Transport
from pipeline.store.tables import editions
from pipeline.subscribers.audience import segment_filter
from pipeline.tracking.plan import tracking_values

log = logging.getLogger(__name__)


@dataclass
class SendReport:
    """What one call of ``send_edition`` did."""

    edition_id: int
    slug: str
    transport: str = ""
    status: str = ""  # the edition's status when the call returned
    sent: int = 0
    failed: int = 0
    retried: int = 0  # transient failures put back for a later attempt
    uncertain: int = 0  # went out, answer never came: maybe delivered, not resent
    skipped: int = 0
    attempts: int = 0
    total: int = 0  # ledger rows of the edition
    already_sent: bool = False
    pause_reason: str | None = None
    in_flight_elsewhere: int = 0
    # Rows left for later: "ab-test" (the rest waits for the winner) or "local-time" (a
    # zone's time has not come), and when the next of them falls due.
    waiting_for: str = ""
    waiting_until: datetime | None = None
    started: float = field(default_factory=time.monotonic)
    # Recipients refused with SMTP 5xx in the current batch, for the bounce decision.
    refusals: list[tuple[ledger.Claimed, str]] = field(default_factory=list, repr=False)
    suppressed: int = 0  # addresses suppressed by those refusals

    @property
    def errors(self) -> int:
        return self.failed + self.retried + self.uncertain

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def backoff_delay(settings: Settings, attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: base * 2^(attempts-1), capped, with jitter
    (a random half to the whole of it)."""
    cfg = settings.sending
    ceiling: float = min(cfg.backoff_max, cfg.backoff_base * (2 ** max(attempts - 1, 0)))
    draw = rng.random() if rng is not None else random.random()
    return ceiling * (0.5 + 0.5 * draw)


def reclaim_in_flight(engine: Engine, edition_id: int, *, clock: Clock | None = None) -> int:
    """Put every in_flight row of the edition back to pending (after a crash); returns how
    many: at most that many recipients may receive the edition twice."""
    return ledger.reclaim_rows(engine, edition_id, (clock or SystemClock()).now())


def snapshot_plan(settings: Settings, edition: Edition) -> ledger.SnapshotPlan | None:
    """The A/B sample and local-time zones the edition's snapshot assigns (None: neither)."""
    if not edition.ab_test and not edition.send_at_local:
        return None
    return ledger.SnapshotPlan(
        variants=int(edition.ab_test["variants"]) if edition.ab_test else 0,
        sample=float(edition.ab_test["sample"]) if edition.ab_test else 0.0,
        local=parse_local(edition.send_at_local) if edition.send_at_local else None,
        default_zone=settings.newsletter.timezone,
    )


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _edition_status(engine: Engine, edition_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(select(editions.c.status).where(editions.c.id == edition_id)).scalar_one()
        )


class _StatusReader:
    """The edition's status, read before each hand-off on one connection kept for the run,
    outside any transaction: on SQLite a read then never waits for the write lock (which
    every transaction here takes, and which the answers' writer and the next claim hold
    by turns); on PostgreSQL in autocommit, one round trip a read; and no connection is
    opened per hand-off. A broken connection is replaced once before the error is
    raised."""

    def __init__(self, engine: Engine, edition_id: int) -> None:
        self.engine = engine
        self.sql = f"SELECT status FROM editions WHERE id = {int(edition_id)}"
        self.raw: Any = None

    def __call__(self) -> str:
        for attempt in range(2):
            try:
                if self.raw is None:
                    self.raw = self.engine.raw_connection()
                    if self.engine.dialect.name == "postgresql":
                        # No transaction around the read: one round trip, not two (the
                        # ROLLBACK that ended it); restored before the pool has it back.
                        self.raw.driver_connection.autocommit = True
                cursor = self.raw.cursor()
                try:
                    cursor.execute(self.sql)
                    return str(cursor.fetchone()[0])
                finally:
                    cursor.close()
            except self.engine.dialect.loaded_dbapi.Error:
                self.close(broken=True)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self, *, broken: bool = False) -> None:
        if self.raw is not None:
            with contextlib.suppress(Exception):  # a broken connection: nothing to keep
                if broken:
                    self.raw.invalidate()
                elif self.engine.dialect.name == "postgresql":
                    self.raw.driver_connection.autocommit = False
                self.raw.close()
            self.raw = None


def _add_the_rest(engine: Engine, edition_id: int) -> threading.Thread:
    """Add the rest of a snapshot taken in two parts (``ledger.start_edition``) in a thread
    of its own, while the first part is sent. A failure is logged, not raised: the run
    adds the rest again when it finds nothing more to claim (``_finish_or_wait``), and a
    persistent database error stops it there."""

    def add() -> None:
        try:
            ledger.complete_snapshot(engine, edition_id)
        except Exception as exc:  # retried by the run, which raises
            log.warning("the rest of the snapshot was not added yet: %s", exc)

    thread = threading.Thread(target=add, name="snapshot", daemon=True)
    thread.start()
    return thread


class _Recorder:
    """Writes the answers of a run's claims as they arrive, in a thread of its own, so
    sending never waits for a commit while fewer than ``every`` answers are unwritten: at
    that many, ``add`` waits for the writer (a kill -9 loses at most ``every`` answers,
    whatever the number of claims they belong to, and their messages are sent again).
    Each write takes every answer that came while the previous one was committed (a group
    commit), once half of ``every`` have come or ``seconds`` after the first of them; the
    answers of each claim in it are written for that claim. A database error is retried
    (a killed connection is replaced); if it persists, ``add`` and ``flush`` raise
    StoreError with the unwritten rows still in flight, to be reclaimed by the next run."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        every: int,
        seconds: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.every = max(1, every)
        self.start_at = max(1, self.every // 2)  # answers that start a write at once
        self.seconds = seconds
        self.sleep = sleep
        self.cond = threading.Condition()
        self.buffer: list[ledger.Outcome] = []  # not yet taken by the writer
        self.claims: list[str] = []  # the claim of each answer of the buffer
        self.writing = 0  # answers being written now
        self.first = 0.0  # when the oldest answer of the buffer came
        self.hurry = False  # flush: write what there is at once
        self.stopping = False
        self.error: StoreError | None = None
        self.conn: Connection | None = None  # the writer's
        self.thread: threading.Thread | None = None

    def add(self, claim_id: str, outcomes: list[ledger.Outcome]) -> None:
        if not outcomes:
            return
        with self.cond:
            self._raise()
            if self.thread is None:
                self.thread = threading.Thread(target=self._write, name="recorder", daemon=True)
                self.thread.start()
            was = len(self.buffer)
            if not was:
                self.first = time.monotonic()
            self.buffer.extend(outcomes)
            self.claims.extend([claim_id] * len(outcomes))
            full = len(self.buffer) + self.writing >= self.every
            if not self.writing and (full or was < self.start_at <= len(self.buffer)):
                self.cond.notify_all()  # a write is due (a busy writer looks when it is done)
            while full and self.error is None:
                self.cond.wait()
                full = len(self.buffer) + self.writing >= self.every
            self._raise()

    def flush(self) -> None:
        """Wait until every answer added so far is written."""
        with self.cond:
            self.hurry = True
            self.cond.notify_all()
            while (self.buffer or self.writing) and self.error is None:
                self.cond.wait()
            self.hurry = False
            self._raise()

    def close(self) -> None:
        """Stop the writer (after its current write); answers not written stay so."""
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _write(self) -> None:
        try:
            while True:
                with self.cond:
                    while not self.stopping and self.error is None:
                        due = self.first + self.seconds - time.monotonic()
                        if self.buffer and (
                            self.hurry or len(self.buffer) >= self.start_at or due <= 0
                        ):
                            break
                        # Asleep, it looks at least every ``seconds``: an answer added to
                        # an empty buffer waits at most twice that (add notifies only
                        # when a write is due, not for each answer).
                        self.cond.wait(due if self.buffer else self.seconds)
                    if self.stopping or self.error is not None:
                        return
                    batch, self.buffer = self.buffer, []
                    claims, self.claims = self.claims, []
                    self.writing = len(batch)
                try:
                    self._commit(batch, claims)
                except StoreError as exc:
                    with self.cond:
                        self.error = exc
                        self.writing = 0
                        self.cond.notify_all()
                    return
                with self.cond:
                    self.writing = 0
                    if self.buffer:
                        self.first = time.monotonic()
                    self.cond.notify_all()
        finally:
            if self.conn is not None:
                with contextlib.suppress(DBAPIError):
                    ledger.close_writer(self.conn)
                self.conn = None

    def _commit(self, batch: list[ledger.Outcome], claims: list[str]) -> None:
        by_claim: dict[str, list[ledger.Outcome]] = {}
        first = claims[0]
        if claims.count(first) == len(claims):  # the usual case: one claim
            by_claim[first] = batch
        else:  # a write across two claims
            for claim_id, outcome in zip(claims, batch, strict=True):
                by_claim.setdefault(claim_id, []).append(outcome)
        for attempt in range(4):
            try:
                if self.conn is None:
                    self.conn = ledger.writer_connection(self.engine)
                now = self.clock.now()
                while by_claim:
                    claim_id = next(iter(by_claim))
                    ledger.record_outcomes(self.conn, claim_id, by_claim[claim_id], now)
                    del by_claim[claim_id]  # written: not again at a retry
                return
            except DBAPIError as exc:
                with contextlib.suppress(DBAPIError):
                    if self.conn is not None:
                        ledger.close_writer(self.conn, failed=True)
                self.conn = None
                if attempt == 3:
                    raise StoreError(
                        f"cannot record delivery results: {exc.orig or exc}",
                        fix="check the database; then 'newsletter issue resume SLUG' "
                        "(the unrecorded messages are sent again)",
                    ) from exc
                log.warning("recording results failed (%s); retrying", exc.orig or exc)
                self.sleep(0.2 * 2**attempt)


class _Heartbeat:
    """A thread renewing the claims a run holds (the batch being sent, and the next one
    once claimed) every ``interval`` seconds."""

    def __init__(
        self, engine: Engine, clock: Clock, interval: float, edition_id: int | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.interval = interval
        self.edition_id = edition_id
        self.claims: set[str] = set()
        self.stop = threading.Event()
        self.beats = 0
        self.thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            for claim_id in list(self.claims):
                try:
                    ledger.renew_claim(self.engine, claim_id, self.clock.now(), self.edition_id)
                    self.beats += 1
                except DBAPIError as exc:  # the next beat tries again
                    log.warning("heartbeat failed: %s", exc.orig or exc)


class _NextClaim:
    """The next batch, claimed in a thread of its own while the current one is sent, so
    the claim's queries overlap with sending. ``release`` gives it back (rows pending
    again, untouched) when the run stops before using it."""

    def __init__(self, take: Callable[[], tuple[str, list[ledger.Claimed]]]) -> None:
        self.take = take
        self.value: tuple[str, list[ledger.Claimed]] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="next-claim", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.value = self.take()
        except BaseException as exc:  # raised where the claim is used
            self.error = exc

    def get(self) -> tuple[str, list[ledger.Claimed]]:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value

    def release(self, engine: Engine, clock: Clock) -> None:
        self.thread.join()
        if self.value is not None and self.value[1]:
            with contextlib.suppress(DBAPIError):  # the database is gone: a lease frees them
                ledger.release_claim(engine, self.value[0], clock.now())


def send_edition(
    settings: Settings,
    engine: Engine,
    edition_id: int,
    *,
    transport: Transport | None = None,
    clock: Clock | None = None,
    worker: str | None = None,
    progress: Callable[[SendReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> SendReport:
    """Send (or continue sending) an edition; returns what this call did."""
    clock = clock or SystemClock()
    worker = worker or _worker_name()
    edition = edition_by_id(engine, edition_id)
    report = SendReport(edition_id, edition.slug, status=edition.status)
    if edition.status == "sent":
        report.already_sent = True
        report.total = sum(ledger.count_by_status(engine, edition_id).values())
        return report
    if edition.status in ("paused", "cancelled", "missed"):
        why = f": {edition.pause_reason}" if edition.pause_reason else ""
        fix = {
            "paused": f"run 'newsletter issue resume {edition.slug}' when the cause is fixed",
            "cancelled": "a cancelled edition is never sent; copy the issue to a new slug",
            "missed": f"schedule it again: 'newsletter issue schedule {edition.slug} --at ...'",
        }[edition.status]
        raise SendError(f"edition {edition.slug!r} is {edition.status}{why}", fix=fix)
    ledger.start_edition(
        engine,
        edition_id,
        edition.lists,
        clock.now(),
        worker,
        edition.segment_condition,
        snapshot_plan(settings, edition),
    )
    # A snapshot taken in two parts: the rest is added while the first part is sent.
    rest = (
        _add_the_rest(engine, edition_id)
        if ledger.snapshot_incomplete(engine, edition_id)
        else None
    )
    if edition.ab_test and decide_if_due(engine, edition, clock.now()) is not None:
        edition = edition_by_id(engine, edition_id)  # the rest now has the winner's subject
    if not sum(ledger.count_by_status(engine, edition_id).values()):
        # Nobody to send to (e.g. everyone left after it was scheduled): never mark it sent.
        try:
            where = segment_filter(engine, edition.segment_condition, clock.now())
            require_audience(
                engine, edition.slug, edition.lists, where=where, segment=edition.segment
            )
        except SendError as exc:
            transition(engine, edition_id, ["sending"], "paused", pause_reason=str(exc))
            report.status, report.pause_reason = "paused", str(exc)
            return report

    own_transport = transport is None
    chosen = transport or get_transport(settings)
    report.transport = chosen.describe()
    report.total = sum(ledger.count_by_status(engine, edition_id).values())
    try:
        send_claims(settings, engine, edition, chosen, report, clock, progress, sleep, rng)
    finally:
        if own_transport:
            chosen.close()
    if rest is not None:  # the total now holds the rest of the snapshot
        # Not waited for when the run stops on an error or Ctrl-C: a process that exits
        # meanwhile rolls its transaction back, and the next run adds the rest.
        rest.join()
        report.total = sum(ledger.count_by_status(engine, edition_id).values())
    if report.status != "paused":
        report.pause_reason = None
    return report


def send_claims(
    settings: Settings,
    engine: Engine,
    edition: Edition,
    transport: Transport,
    report: SendReport,
    clock: Clock,
    progress: Callable[[SendReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> None:
    """The claim loop of one run on an edition already ``sending``: reclaim expired claims,
    claim a batch, send it, record it; until nothing is left, the edition leaves
    ``sending`` or the error rate pauses it. Any number of processes may run it at once.

    While every answer is good, one claim follows another in the same transport
    conversation (``_send_stream``): the relay's connections never drain between
    batches. A claim with a failed, retried or uncertain answer ends the conversation,
    and the next claim starts a new one (an unreachable relay is tried again)."""
    edition_id = edition.id
    skeleton = MessageSkeleton(
        settings,
        edition.compiled,
        slug=edition.slug,
        lists=edition.lists,
        signer=make_signer(settings),
        clock=clock,
    )
    skeletons: dict[int | None, MessageSkeleton] = {None: skeleton}
    for variant in edition_variants_of(engine, edition_id):  # an A/B test: one per subject
        skeletons[variant.index] = MessageSkeleton(
            settings,
            variant.compiled,
            slug=edition.slug,
            lists=edition.lists,
            signer=make_signer(settings),
            clock=clock,
        )
    ab = bool(edition.ab_test)
    cfg = settings.sending
    bucket = TokenBucket(cfg.rate_limit, now=lambda: clock.now().timestamp(), sleep=sleep)
    chunk = max(1, int(cfg.rate_limit)) if cfg.rate_limit > 0 else transport.batch_size
    with _Heartbeat(engine, clock, cfg.claim_lease_seconds / 4, edition_id) as heartbeat:
        frontier = 0  # the last id this run claimed: the next claim reads on from it

        def take() -> tuple[str, list[ledger.Claimed]]:
            nonlocal frontier
            claim_id = secrets.token_hex(12)

            def claim(after: int) -> list[ledger.Claimed]:
                return ledger.claim_batch(
                    engine,
                    edition_id,
                    edition.lists,
                    limit=transport.batch_size,
                    claim_id=claim_id,
                    now=clock.now(),
                    ab_test=ab,
                    after=after,
                )

            rows = claim(frontier)
            if not rows and frontier:  # then from the start: retries, rows given back
                rows = claim(0)
            frontier = rows[-1].id if rows else 0
            if rows:
                heartbeat.claims.add(claim_id)
            return claim_id, rows

        status = _StatusReader(engine, edition_id)
        run = _Run(
            settings,
            engine,
            edition_id,
            skeletons,
            web_url(settings, edition.slug),
            transport,
            bucket,
            chunk,
            report,
            rng,
            clock,
            heartbeat=heartbeat,
            status=status,
            take=take,
            progress=progress,
            # Expired claims (of a run that stopped) are reclaimed when the run starts,
            # then every tenth of a lease, not between every two batches: they expire
            # only after a whole lease, and the statement was a sixth of the pause
            # between two batches.
            reclaim_at=clock.now(),
        )
        try:
            while True:
                run.reclaim_if_due()
                state = status()
                if state != "sending":  # paused or cancelled by someone else
                    run.release_upcoming()
                    if state == "cancelled":  # rows this run claimed but never handed over
                        ledger.cancel_pending(engine, edition_id, clock.now())
                    report.status = state
                    if state == "paused":
                        report.pause_reason = edition_by_id(engine, edition_id).pause_reason
                    return
                claim_id, claimed = run.next_claim()
                if not claimed:
                    if _finish_or_wait(engine, edition, report, clock, sleep):
                        continue
                    return
                if _send_stream(run, claim_id, claimed) or _between_claims(run):
                    return
        finally:
            run.release_upcoming()  # the run stops: the next batch was never used
            status.close()


@dataclass(eq=False)
class _Run:
    """What stays the same for every batch of one run on an edition, and the next batch
    (claimed while the current one is sent)."""

    settings: Settings
    engine: Engine
    edition_id: int
    skeletons: dict[int | None, MessageSkeleton]  # None: the edition; else each A/B variant
    web: str
    transport: Transport
    bucket: TokenBucket
    chunk: int  # at most this many messages per hand-off (the rate limit's second)
    report: SendReport
    rng: random.Random | None
    clock: Clock
    heartbeat: _Heartbeat
    status: _StatusReader
    take: Callable[[], tuple[str, list[ledger.Claimed]]]
    progress: Callable[[SendReport], None] | None
    reclaim_at: datetime
    upcoming: _NextClaim | None = None

    def reclaim_if_due(self, before: Callable[[], None] | None = None) -> None:
        """Reclaim the expired claims of runs that stopped, every tenth of a lease;
        ``before`` runs first when it is due (this run's answers written, so none of its
        own rows is in flight for want of a write)."""
        now = self.clock.now()
        if now >= self.reclaim_at:
            if before is not None:
                before()
            cfg = self.settings.sending
            lease = timedelta(seconds=cfg.claim_lease_seconds)
            ledger.reclaim_rows(
                self.engine,
                self.edition_id,
                now,
                older_than=now - lease,
                resend=cfg.resend_in_flight,
            )
            self.reclaim_at = now + lease / 10

    def next_claim(self) -> tuple[str, list[ledger.Claimed]]:
        """The batch claimed meanwhile, else one claimed now."""
        if self.upcoming is not None:
            upcoming, self.upcoming = self.upcoming, None
            return upcoming.get()
        return self.take()

    def claim_ahead(self, claimed: list[ledger.Claimed]) -> None:
        """A full batch means more to come: claim it while this one is sent."""
        if len(claimed) >= self.transport.batch_size and self.upcoming is None:
            self.upcoming = _NextClaim(self.take)

    def release_upcoming(self) -> None:
        if self.upcoming is not None:
            upcoming, self.upcoming = self.upcoming, None
            upcoming.release(self.engine, self.clock)


def _between_claims(run: _Run) -> bool:
    """After a claim: suppress the addresses refused for good, report progress, and pause
    the edition past ``sending.pause_error_rate``; True when it paused."""
    report, cfg = run.report, run.settings.sending
    _apply_refusals(run.settings, run.engine, run.edition_id, report, run.clock)
    if run.progress is not None:
        run.progress(report)
    if report.attempts >= cfg.pause_min_sample and (
        report.errors / report.attempts > cfg.pause_error_rate
    ):
        reason = (
            f"{report.errors} of {report.attempts} attempts failed "
            f"({report.errors / report.attempts:.0%}, above "
            f"sending.pause_error_rate {cfg.pause_error_rate:.0%}); "
            f"last error: {report.pause_reason or '-'}"
        )
        transition(run.engine, run.edition_id, ["sending"], "paused", pause_reason=reason)
        report.status = "paused"
        report.pause_reason = reason
        return True
    return False


@dataclass(eq=False)
class _Claim:
    """One claimed batch in a conversation: its rows, and how many of its messages were
    handed over and answered."""

    id: str
    rows: list[ledger.Claimed]
    errors: int  # the run's errors when the claim started
    handed: int = 0
    answered: int = 0
    complete: bool = False  # every row handed over or given its outcome

    @property
    def settled(self) -> bool:
        return self.complete and self.answered >= self.handed


def _send_stream(run: _Run, claim_id: str, claimed: list[ledger.Claimed]) -> bool:
    """Send a claimed batch, and the batches claimed after it, in one conversation with
    the transport: the next claim's first messages follow the last ones of this claim
    while those are still on the wire. One writer records the answers of every claim (at
    most ``every`` unwritten in all, at a claim's end as anywhere). The conversation ends
    after a claim with an error, a claim that was not full (nothing more to claim now),
    when the edition leaves ``sending`` (the rows not handed over are given back) or when
    the error rate pauses it. True when the run must stop: the error rate or a
    transport's bug paused the edition. A TransportError or StoreError is raised after
    the rows not sent were given back."""
    engine, transport, clock, report = run.engine, run.transport, run.clock, run.report
    every = transport.record_every or transport.concurrency
    lock = threading.RLock()  # answers may come from the transport's threads
    recorder = _Recorder(engine, clock, every=every)
    open_claims: list[_Claim] = []  # claims with rows not yet answered
    on_wire: dict[int, tuple[_Claim, ledger.Claimed, Outgoing]] = {}  # by the stream's number
    stopped = False  # the edition left ``sending``: nothing more was handed over
    halted = False  # the error rate paused the edition between two claims
    prepare = _preparer(run)
    step = min(run.chunk, transport.handoff_size)

    def begin(cid: str, rows: list[ledger.Claimed]) -> _Claim:
        claim = _Claim(cid, rows, report.errors)
        open_claims.append(claim)
        run.claim_ahead(rows)
        return claim

    def settle() -> None:
        """Stop renewing the claims whose answers have all come (the writer has them)."""
        for claim in list(open_claims):
            if claim.settled:
                run.heartbeat.claims.discard(claim.id)
                open_claims.remove(claim)

    def parts() -> Iterator[list[Outgoing]]:
        """The hand-offs, built as the transport asks for them (so building overlaps with
        sending), each after a look at the edition's state; claim after claim."""
        nonlocal stopped, halted
        claim = begin(claim_id, claimed)
        number = 0  # the transport numbers the messages in order across the parts
        while True:
            rows = iter(claim.rows)
            while True:
                part: list[tuple[ledger.Claimed, Outgoing]] = []
                early: list[ledger.Outcome] = []
                with lock:
                    for row in rows:
                        made = prepare(row)
                        if isinstance(made, Outgoing):
                            part.append((row, made))
                            if len(part) == step:
                                break
                        else:
                            early.append(made)
                    recorder.add(claim.id, early)
                if not part:
                    break
                run.bucket.acquire(len(part))
                if run.status() != "sending":  # cancelled or paused: hand over nothing more
                    stopped = True
                    return
                with lock:
                    for row, message in part:
                        on_wire[number] = (claim, row, message)
                        number += 1
                    claim.handed += len(part)
                yield [m for _, m in part]
            with lock:
                claim.complete = True
                clean = report.errors == claim.errors
                settle()
            if not clean or run.upcoming is None:  # a new conversation, or nothing more
                return
            run.reclaim_if_due(before=recorder.flush)
            cid, rows_next = run.next_claim()
            if not rows_next:  # the end: the caller's _between_claims follows
                return
            claim = begin(cid, rows_next)
            with lock:
                if _between_claims(run):  # paused: the new claim is given back unsent
                    halted = stopped = True
                    return

    def record(answers: list[tuple[int, Result]]) -> None:
        with lock:
            claim: _Claim | None = None
            outcomes: list[ledger.Outcome] = []
            for i, result in answers:
                entry = on_wire.pop(i, None)
                if entry is None:  # answered already
                    continue
                if entry[0] is not claim:
                    if claim is not None:
                        recorder.add(claim.id, outcomes)
                    claim, outcomes = entry[0], []
                _, row, message = entry
                claim.answered += 1
                outcomes.append(
                    _outcome(run.settings, row, message, result, report, run.rng, clock)
                )
                if result.refused:
                    report.refusals.append((row, result.error or "refused"))
            if claim is not None:
                recorder.add(claim.id, outcomes)

    try:
        transport.send_stream(parts(), record)
        recorder.flush()
        if stopped:  # rows not handed over: pending again, untouched
            _release(open_claims, engine, clock)
    except (TransportError, StoreError, DBAPIError):
        _give_back(recorder, open_claims, engine, clock)
        raise
    except Exception as exc:  # a bug in a transport: pause with the reason
        log.exception("the %s transport failed", transport.name)
        _give_back(recorder, open_claims, engine, clock)
        reason = (
            f"the {transport.name} transport failed: {type(exc).__name__}: {exc}; "
            "the messages it had not sent were given back"
        )
        transition(engine, run.edition_id, ["sending"], "paused", pause_reason=reason)
        report.status, report.pause_reason = "paused", reason
        return True
    finally:
        recorder.close()
        for claim in open_claims:
            run.heartbeat.claims.discard(claim.id)
    return halted


def _give_back(recorder: _Recorder, claims: list[_Claim], engine: Engine, clock: Clock) -> None:
    """Write the answers already known, then put the rows not sent back to pending."""
    try:
        recorder.flush()
    except StoreError:
        return  # the database is gone: the rows stay in flight for the next run
    with contextlib.suppress(DBAPIError):  # the same: a lease frees them
        _release(claims, engine, clock)


def _release(claims: list[_Claim], engine: Engine, clock: Clock) -> None:
    """Put the rows of ``claims`` still in flight (never handed over: every answer is
    written) back to pending, untouched."""
    for claim in claims:
        ledger.release_claim(engine, claim.id, clock.now())


def _preparer(run: _Run) -> Callable[[ledger.Claimed], Outgoing | ledger.Outcome]:
    """What turns a claimed row into its message, or into its outcome when it gets none
    (skipped, failed)."""
    settings, edition_id, skeletons, web = run.settings, run.edition_id, run.skeletons, run.web
    transport, report = run.transport, run.report
    return_path = settings.bounces.return_path
    secret = settings.secrets.secret_key

    def prepare(row: ledger.Claimed) -> Outgoing | ledger.Outcome:
        if not row.eligible:
            why = "erased before sending" if row.erased else "unsubscribed or suppressed"
            report.skipped += 1
            return ledger.Outcome(row.id, "skipped", error=why)
        assert row.subscriber_id is not None
        skeleton = skeletons.get(row.variant, skeletons[None])
        values = recipient_values(
            settings,
            row.public_id,
            row.email,
            row.name,
            edition_id,
            web=web,
            attributes=row.attributes,
        )
        if row.tracking and skeleton.tracked:
            values.update(tracking_values(settings, row.public_id, edition_id))
        envelope = None
        if return_path:
            envelope = verp_address(return_path, secret, "b", row.id)
            values[MAILTO_KEY] = verp_address(return_path, secret, "u", row.id)
        try:
            address = wire_address(row.email)
            if transport.name != "sendgrid":  # SendGrid checks its own (other) limits
                skeleton.check(address, values["name"], values)
        except PersonalisationError as exc:
            report.failed += 1
            report.attempts += 1
            return ledger.Outcome(row.id, "failed", error=str(exc))
        return Outgoing(
            skeleton, address, values["name"], values, skeleton.new_message_id(), row.id, envelope
        )

    return prepare


def _apply_refusals(
    settings: Settings, engine: Engine, edition_id: int, report: SendReport, clock: Clock
) -> None:
    """A 5xx refusal at send time is a hard bounce: the one decision suppresses it."""
    if not report.refusals:
        return
    # Only when there are refusals: the bounce decision and what it imports (address
    # validation, segment fields) cost 40 ms of start-up that most sends never need.
    from pipeline.bounces.decision import Bounce, apply_bounce

    now = clock.now()
    for row, error in report.refusals:
        verdict = apply_bounce(
            engine,
            settings.bounces,
            Bounce(
                email=row.email,
                kind="hard",
                source="smtp",
                occurred_at=now,
                delivery_id=row.id,
                edition_id=edition_id,
                reason=error,
            ),
        )
        report.suppressed += verdict == "suppressed"
    report.refusals.clear()


def _finish_or_wait(
    engine: Engine,
    edition: Edition,
    report: SendReport,
    clock: Clock,
    sleep: Callable[[float], None],
) -> bool:
    """Nothing to claim: wait for retries that are not yet due (True: claim again), stop
    while other runs hold rows, while rows wait for their local time or for the A/B
    test's winner (chosen here when its wait is over), or mark the edition sent."""
    edition_id = edition.id
    if ledger.snapshot_incomplete(engine, edition_id):
        # The rest of the snapshot is not in the ledger yet: add it (or wait for the run
        # adding it: the edition's row lock), then claim it.
        ledger.complete_snapshot(engine, edition_id)
        return True
    now = clock.now()
    ab = bool(edition.ab_test)
    waiting = ledger.waiting(engine, edition_id, now, ab_test=ab)
    if waiting.due_now:
        return True
    if waiting.retry_at is not None:
        sleep(max(0.0, min((waiting.retry_at - now).total_seconds(), 60.0)))
        return True
    counts = ledger.count_by_status(engine, edition_id)
    if counts["in_flight"]:
        report.in_flight_elsewhere = counts["in_flight"]
        report.status = "sending"
        return False
    if waiting.held:  # the sample is sent: the rest waits for the winner
        if decide_if_due(engine, edition_by_id(engine, edition_id), now) is not None:
            return True
        state = ab_state(engine, edition_by_id(engine, edition_id))
        report.status, report.waiting_for = "sending", "ab-test"
        report.waiting_until = state.decide_at if state else None
        return False
    if waiting.zone_at is not None:  # later zones of a local-time send
        report.status, report.waiting_for = "sending", "local-time"
        report.waiting_until = waiting.zone_at
        return False
    transition(engine, edition_id, ["sending"], "sent", finished_at=clock.now())
    report.status = _edition_status(engine, edition_id)
    return False


def _outcome(
    settings: Settings,
    row: ledger.Claimed,
    message: Outgoing,
    result: Result,
    report: SendReport,
    rng: random.Random | None,
    clock: Clock,
) -> ledger.Outcome:
    report.attempts += 1
    if result.outcome == "sent":
        report.sent += 1
        return ledger.Outcome(
            row.id, "sent", message_id=message.message_id, provider_id=result.provider_id
        )
    report.pause_reason = result.error
    if result.outcome == "uncertain":
        report.uncertain += 1
        return ledger.Outcome(
            row.id, "uncertain", message_id=message.message_id, error=result.error
        )
    if result.outcome == "transient" and row.attempts < settings.sending.max_attempts:
        report.retried += 1
        when = clock.now() + timedelta(seconds=backoff_delay(settings, row.attempts, rng))
        return ledger.Outcome(row.id, "pending", error=result.error, next_attempt_at=when)
    report.failed += 1
    error = result.error or "failed"
    if result.outcome == "transient":
        error = f"gave up after {row.attempts} attempts: {error}"
    return ledger.Outcome(row.id, "failed", error=error)
