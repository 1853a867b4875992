"""The sending engine: snapshot the audience, claim batches, send, record every answer.

Safe to run in several processes on one edition at once: each claims its own batches. A
crash leaves ``pending`` rows (sent by the next run) and ``in_flight`` rows whose fate is
unknown: a later run reclaims them after ``sending.claim_lease_seconds`` and
``issue resume`` at once (``reclaim_in_flight``); they are resent, so a crash can
duplicate at most the messages in flight at that moment and never loses one.

Transient failures go back to ``pending`` with ``next_attempt_at`` (exponential backoff
with jitter) until ``sending.max_attempts``; permanent ones are ``failed`` at once. Past
``sending.pause_error_rate`` (after ``pause_min_sample`` attempts) the edition pauses.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, select

from pipeline.bounces.decision import Bounce, apply_bounce
from pipeline.bounces.verp import verp_address
from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.errors import PersonalisationError, SendError, TransportError
from pipeline.sending import ledger
from pipeline.sending.dkim import make_signer
from pipeline.sending.editions import edition_by_id, transition
from pipeline.sending.mime import MAILTO_KEY, MessageSkeleton
from pipeline.sending.ratelimit import TokenBucket
from pipeline.sending.recipient_values import recipient_values, web_url
from pipeline.sending.transports import get_transport
from pipeline.sending.transports.base import Outgoing, Result, Transport
from pipeline.store.tables import editions
from pipeline.tracking.plan import tracking_values


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
    skipped: int = 0
    attempts: int = 0
    total: int = 0  # ledger rows of the edition
    already_sent: bool = False
    pause_reason: str | None = None
    in_flight_elsewhere: int = 0
    started: float = field(default_factory=time.monotonic)
    # Recipients refused with SMTP 5xx in the current batch, for the bounce decision.
    refusals: list[tuple[ledger.Claimed, str]] = field(default_factory=list, repr=False)
    suppressed: int = 0  # addresses suppressed by those refusals

    @property
    def errors(self) -> int:
        return self.failed + self.retried

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def backoff_delay(settings: Settings, attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: base * 2^(attempts-1), capped, with jitter
    (a random half to the whole of it)."""
    cfg = settings.sending
    ceiling = min(cfg.backoff_max, cfg.backoff_base * (2 ** max(attempts - 1, 0)))
    return ceiling * (0.5 + 0.5 * (rng or random).random())


def reclaim_in_flight(engine: Engine, edition_id: int, *, clock: Clock | None = None) -> int:
    """Put every in_flight row of the edition back to pending (after a crash); returns how
    many: at most that many recipients may receive the edition twice."""
    return ledger.reclaim_rows(engine, edition_id, (clock or SystemClock()).now())


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _edition_status(engine: Engine, edition_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(select(editions.c.status).where(editions.c.id == edition_id)).scalar_one()
        )


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
        engine, edition_id, edition.lists, clock.now(), worker, edition.segment_condition
    )

    own_transport = transport is None
    chosen = transport or get_transport(settings)
    report.transport = chosen.describe()
    skeleton = MessageSkeleton(
        settings,
        edition.compiled,
        slug=edition.slug,
        lists=edition.lists,
        signer=make_signer(settings),
    )
    web = web_url(settings, edition.slug)
    cfg = settings.sending
    bucket = TokenBucket(cfg.rate_limit, sleep=sleep)
    chunk = max(1, int(cfg.rate_limit)) if cfg.rate_limit > 0 else chosen.batch_size
    lease = timedelta(seconds=cfg.claim_lease_seconds)
    report.total = sum(ledger.count_by_status(engine, edition_id).values())
    try:
        while True:
            now = clock.now()
            ledger.reclaim_rows(
                engine, edition_id, now, older_than=now - lease, resend=cfg.resend_in_flight
            )
            status = _edition_status(engine, edition_id)
            if status != "sending":  # paused or cancelled by someone else
                report.status = status
                if status == "paused":
                    report.pause_reason = edition_by_id(engine, edition_id).pause_reason
                break
            claim_id = secrets.token_hex(12)
            claimed = ledger.claim_batch(
                engine,
                edition_id,
                edition.lists,
                limit=chosen.batch_size,
                claim_id=claim_id,
                now=now,
            )
            if not claimed:
                if _finish_or_wait(engine, edition_id, report, clock, sleep):
                    continue
                break
            try:
                outcomes = _send_claimed(
                    settings,
                    edition_id,
                    skeleton,
                    web,
                    chosen,
                    bucket,
                    chunk,
                    claimed,
                    report,
                    rng,
                    clock,
                )
            except TransportError:
                ledger.release_claim(engine, claim_id, clock.now())
                raise
            ledger.record_outcomes(engine, claim_id, outcomes, clock.now())
            _apply_refusals(settings, engine, edition_id, report, clock)
            if progress is not None:
                progress(report)
            if report.attempts >= cfg.pause_min_sample and (
                report.errors / report.attempts > cfg.pause_error_rate
            ):
                reason = (
                    f"{report.errors} of {report.attempts} attempts failed "
                    f"({report.errors / report.attempts:.0%}, above sending.pause_error_rate "
                    f"{cfg.pause_error_rate:.0%}); last error: {report.pause_reason or '-'}"
                )
                transition(engine, edition_id, ["sending"], "paused", pause_reason=reason)
                report.status = "paused"
                report.pause_reason = reason
                break
    finally:
        if own_transport:
            chosen.close()
    if report.status != "paused":
        report.pause_reason = None
    return report


def _apply_refusals(
    settings: Settings, engine: Engine, edition_id: int, report: SendReport, clock: Clock
) -> None:
    """A 5xx refusal at send time is a hard bounce: the one decision suppresses it."""
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
    edition_id: int,
    report: SendReport,
    clock: Clock,
    sleep: Callable[[float], None],
) -> bool:
    """Nothing to claim: wait for retries that are not yet due (True: claim again), stop
    while other runs hold rows, or mark the edition sent."""
    pending, due_at = ledger.pending_state(engine, edition_id)
    if pending:
        if due_at is not None:
            sleep(max(0.0, min((due_at - clock.now()).total_seconds(), 60.0)))
        return True
    counts = ledger.count_by_status(engine, edition_id)
    if counts["in_flight"]:
        report.in_flight_elsewhere = counts["in_flight"]
        report.status = "sending"
        return False
    transition(engine, edition_id, ["sending"], "sent", finished_at=clock.now())
    report.status = _edition_status(engine, edition_id)
    return False


def _send_claimed(
    settings: Settings,
    edition_id: int,
    skeleton: MessageSkeleton,
    web: str,
    transport: Transport,
    bucket: TokenBucket,
    chunk: int,
    claimed: list[ledger.Claimed],
    report: SendReport,
    rng: random.Random | None,
    clock: Clock,
) -> list[ledger.Outcome]:
    outcomes: list[ledger.Outcome] = []
    batch: list[tuple[ledger.Claimed, Outgoing]] = []
    refusals = report.refusals
    return_path = settings.bounces.return_path
    secret = settings.secrets.secret_key
    for row in claimed:
        if not row.eligible:
            why = "erased before sending" if row.erased else "unsubscribed or suppressed"
            outcomes.append(ledger.Outcome(row.id, "skipped", error=why))
            report.skipped += 1
            continue
        assert row.subscriber_id is not None
        values = recipient_values(
            settings,
            row.subscriber_id,
            row.email,
            row.name,
            edition_id,
            web=web,
            attributes=row.attributes,
        )
        if row.tracking and skeleton.tracked:
            values.update(tracking_values(settings, row.subscriber_id, edition_id))
        envelope = None
        if return_path:
            envelope = verp_address(return_path, secret, "b", row.id)
            values[MAILTO_KEY] = verp_address(return_path, secret, "u", row.id)
        message = Outgoing(
            skeleton, row.email, row.name, values, skeleton.new_message_id(), row.id, envelope
        )
        if transport.name != "sendgrid":  # SendGrid checks its own (other) limits
            try:
                skeleton.check(row.email, row.name, values)
            except PersonalisationError as exc:
                outcomes.append(ledger.Outcome(row.id, "failed", error=str(exc)))
                report.failed += 1
                report.attempts += 1
                continue
        batch.append((row, message))
    for start in range(0, len(batch), chunk):
        part = batch[start : start + chunk]
        bucket.acquire(len(part))
        results = transport.send_batch([m for _, m in part])
        for (row, message), result in zip(part, results, strict=True):
            outcomes.append(_outcome(settings, row, message, result, report, rng, clock))
            if result.refused:
                refusals.append((row, result.error or "refused"))
    return outcomes


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
    if result.outcome == "transient" and row.attempts < settings.sending.max_attempts:
        report.retried += 1
        when = clock.now() + timedelta(seconds=backoff_delay(settings, row.attempts, rng))
        return ledger.Outcome(row.id, "pending", error=result.error, next_attempt_at=when)
    report.failed += 1
    error = result.error or "failed"
    if result.outcome == "transient":
        error = f"gave up after {row.attempts} attempts: {error}"
    return ledger.Outcome(row.id, "failed", error=error)
