"""The queue of transactional emails: the confirmation (double opt-in) and welcome emails
that a signup queues in ``mail_queue`` (``pipeline.subscribers.signup``), sent off the
request path, through the same render and send path as issues (``render_email`` with
templates/email + templates/text, then ``send_single``).

Two workers, the same function (:func:`send_queued`): the web app runs :class:`QueueWorker`
in a background thread (every ``web.queue_interval`` seconds, and at once when a signup
wakes it), and ``newsletter subscribers send-queued`` (or ``send-due``) works it from cron.
Several of them at once are safe: a row is claimed (``status='sending'`` with a claim id)
before it is sent; a claim older than ``STALE_CLAIM`` (a crashed worker) is taken again.

The rules applied when an email is about to go:

- the person must still exist (erased: the row went with them) and not be suppressed;
- a confirmation goes only for lists still unconfirmed, at most one per address per
  ``web.confirm_cooldown`` seconds, and ``web.confirm_hourly_cap`` in all per hour (both
  counted in the database, for every worker, once per row: a retry is not counted again);
  over a limit the row is *skipped*;
- a transient failure is tried again later (``RETRY_DELAYS``); a permanent one is *failed*.

Rows that are done are deleted after ``KEEP_DONE``. The queue is a table, so nothing is
lost when the app stops: what it did not send yet waits for the next worker.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, delete, or_, select, update

from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.errors import NewsletterError
from pipeline.render.archive import issue_url, latest_issue
from pipeline.render.email import render_email
from pipeline.sending.direct import send_single
from pipeline.sending.recipient_values import recipient_values
from pipeline.sending.transports.base import Result
from pipeline.store.counters import count_hit
from pipeline.store.tables import mail_queue
from pipeline.subscribers.lists import list_names
from pipeline.subscribers.service import SubscriberInfo, address_hash, get_subscriber
from pipeline.tokens import link, make_token

log = logging.getLogger("pipeline.sending")

BATCH = 50  # rows claimed at a time
STALE_CLAIM = timedelta(minutes=10)
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
KEEP_DONE = timedelta(days=7)


@dataclass
class QueueReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retrying: int = 0

    @property
    def worked(self) -> int:
        return self.sent + self.skipped + self.failed + self.retrying


@dataclass(frozen=True)
class _Row:
    id: int
    kind: str
    subscriber_id: int
    lists: list[str]
    attempts: int  # claims so far, this one included


def send_queued(
    settings: Settings, engine: Engine, *, clock: Clock | None = None, limit: int = 1000
) -> QueueReport:
    """Send what is due in the queue (at most ``limit`` rows); returns what was done."""
    now_of = (clock or SystemClock()).now
    report = QueueReport()
    while report.worked < limit:
        rows = _claim(engine, now_of(), min(BATCH, limit - report.worked))
        if not rows:
            break
        for row in rows:
            _work(settings, engine, row, now_of(), report)
    if report.worked:
        with engine.begin() as conn:
            conn.execute(
                delete(mail_queue).where(
                    mail_queue.c.status.in_(("sent", "skipped", "failed")),
                    mail_queue.c.done_at < now_of() - KEEP_DONE,
                )
            )
    return report


def _claim(engine: Engine, now: datetime, size: int) -> list[_Row]:
    claim = secrets.token_hex(16)
    due = or_(
        and_(mail_queue.c.status == "queued", mail_queue.c.due_at <= now),
        and_(mail_queue.c.status == "sending", mail_queue.c.claimed_at < now - STALE_CLAIM),
    )
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                select(mail_queue.c.id)
                .where(due)
                .order_by(mail_queue.c.id)
                .limit(size)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's BEGIN IMMEDIATE
            ).scalars()
        )
        if not ids:
            return []
        conn.execute(
            update(mail_queue)
            .where(mail_queue.c.id.in_(ids), due)
            .values(
                status="sending",
                claim_id=claim,
                claimed_at=now,
                attempts=mail_queue.c.attempts + 1,  # counted when claimed: a crash counts
            )
        )
        found = conn.execute(
            select(mail_queue).where(mail_queue.c.claim_id == claim).order_by(mail_queue.c.id)
        ).all()
    return [
        _Row(r.id, r.kind, r.subscriber_id, [s for s in r.lists.split(",") if s], r.attempts)
        for r in found
    ]


def _finish(engine: Engine, row: _Row, status: str, now: datetime, error: str = "") -> None:
    values: dict[str, object] = {"status": status, "claim_id": None, "error": error or None}
    if status == "queued":  # a retry: wait, then try again
        values["due_at"] = now + RETRY_DELAYS[min(row.attempts, len(RETRY_DELAYS)) - 1]
    else:
        values["done_at"] = now
    with engine.begin() as conn:
        conn.execute(update(mail_queue).where(mail_queue.c.id == row.id).values(**values))


def _work(
    settings: Settings, engine: Engine, row: _Row, now: datetime, report: QueueReport
) -> None:
    info = get_subscriber(engine, subscriber_id=row.subscriber_id)
    why = _why_not(settings, engine, row, info, now)
    if why:
        log.info("%s email %s not sent: %s", row.kind, row.id, why)
        _finish(engine, row, "skipped", now, why)
        report.skipped += 1
        return
    assert info is not None
    try:
        result = _send(settings, engine, row, info)
    except NewsletterError as exc:  # a template or transport that cannot be used
        result = Result("transient", error=str(exc))
    if result.ok:
        _finish(engine, row, "sent", now)
        report.sent += 1
    elif result.outcome == "transient" and row.attempts <= len(RETRY_DELAYS):
        log.warning("%s email %s not sent yet (%s); will retry", row.kind, row.id, result.error)
        _finish(engine, row, "queued", now, result.error or result.outcome)
        report.retrying += 1
    else:
        log.warning("%s email %s failed: %s", row.kind, row.id, result.error or result.outcome)
        _finish(engine, row, "failed", now, result.error or result.outcome)
        report.failed += 1


def _why_not(
    settings: Settings, engine: Engine, row: _Row, info: SubscriberInfo | None, now: datetime
) -> str:
    """Why this email must not go now ('' when it may)."""
    if info is None:
        return "the subscriber was erased"
    if info.status != "active":
        return f"the address is suppressed ({info.status})"
    if row.kind == "confirm":
        row.lists[:] = [s for s in row.lists if info.subscriptions.get(s) == "unconfirmed"]
        if not row.lists:
            return "nothing left to confirm"
        # counted once per row (its first claim): a retry was already let through
        if row.attempts == 1 and not confirmation_allowed(settings, engine, info.email, now):
            return "a confirmation limit was reached (web.confirm_cooldown or confirm_hourly_cap)"
    return ""


def confirmation_allowed(settings: Settings, engine: Engine, email: str, now: datetime) -> bool:
    """At most one confirmation email per address per ``web.confirm_cooldown`` seconds, and
    ``web.confirm_hourly_cap`` in all per hour (counted in the database, for every worker)."""
    mine = count_hit(
        engine,
        f"confirm:{address_hash(engine, email)}",
        limit=1,
        window=settings.web.confirm_cooldown,
        now=now,
    )
    if not mine.allowed:
        return False
    everyone = count_hit(
        engine, "confirm-all:", limit=settings.web.confirm_hourly_cap, window=3600, now=now
    )
    if not everyone.allowed:
        log.warning("confirmation email not sent: web.confirm_hourly_cap reached")
    return everyone.allowed


# ---- the two emails ------------------------------------------------------------------------
def confirm_url(settings: Settings, public_id: str, lists: Sequence[str]) -> str:
    token = make_token(settings.keys, "confirm", public_id, ",".join(lists))
    return link(settings.newsletter.base_url, "confirm", token)


def _send(settings: Settings, engine: Engine, row: _Row, info: SubscriberInfo) -> Result:
    if row.kind == "confirm":
        template = "confirm"
        context: dict[str, object] = {
            "confirm_url": confirm_url(settings, info.public_id, row.lists),
            "list_names": list_names(settings, row.lists),
        }
        subject = f"Please confirm your subscription to {settings.newsletter.name}"
        preheader = "One click and you're in. The link works for 7 days."
    else:
        template = "welcome"
        latest = latest_issue(engine)
        context = {
            "list_names": list_names(settings, row.lists),
            "latest": (
                {
                    "subject": latest.subject,
                    "url": issue_url(settings.newsletter.base_url, latest.slug),
                }
                if latest
                else None
            ),
        }
        subject = f"Welcome to {settings.newsletter.name}"
        preheader = "You're subscribed. Here is where to start."
    # email_kind tells the shared layout that this is not an issue: no "view in browser"
    # line, and a confirmation goes to someone who has not subscribed yet.
    context["email_kind"] = template
    compiled = render_email(settings, template, context, subject=subject, preheader=preheader)
    values = recipient_values(
        settings, info.public_id, info.email, info.name, attributes=info.attributes
    )
    # the To name is the greeting's: a name that looks like a link or an address is neither
    return send_single(
        settings, compiled, to_email=info.email, to_name=values["name"], values=values
    )


# ---- the web app's background worker ---------------------------------------------------------
class QueueWorker:
    """Works the queue in a daemon thread: every ``interval`` seconds, and at once after
    :meth:`wake` (a signup queued something). :meth:`flush` works it in the caller's thread."""

    def __init__(
        self, settings: Settings, engine: Engine, *, clock: Clock | None = None, interval: float
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock or SystemClock()
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or self.interval <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mail-queue", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def flush(self) -> QueueReport:
        """Work the queue now (one worker of this process at a time)."""
        with self._lock:
            return send_queued(self.settings, self.engine, clock=self.clock)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.flush()
            except Exception:  # a bug or a database away: log it, keep the thread alive
                log.exception("the mail queue could not be worked; will try again")
