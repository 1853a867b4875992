"""Recording opens and clicks: what the redirect and the pixel call.

``Tracker.click(token, index, ...)`` checks the signed recipient token, finds the link's
target in the edition's link table (cached per process: the target never comes from the
request), judges the request (``classify.request_verdict``) and queues the event; the
caller redirects at once. ``Tracker.open`` does the same for the pixel. Nothing here waits
for the database on the request path, so a busy or locked database never delays a
redirect: the queue is written by ``Recorder.flush`` (a background thread every
``interval`` seconds, and at shutdown), in one transaction per batch, which also applies
the rules that need the delivery's history (prefetch, honeypot, burst) and marks earlier
clicks of a machine burst as machine.

Deduplication: every event has a key in ``delivery_events.provider_event_id`` (unique,
shared with SendGrid's ``sg_event_id``): ``t:<kind>:<delivery>:<link>:<unix second>``, so
the same request repeated within a second is stored once.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, tuple_, update
from sqlalchemy.exc import DBAPIError

from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.errors import WebError
from pipeline.store.tables import deliveries, delivery_events, edition_links, subscribers
from pipeline.tokens import PUBLIC_ID_LENGTH, read_token
from pipeline.tracking.classify import HONEYPOT_WINDOW, Verdict, request_verdict
from pipeline.tracking.links import HONEYPOT

log = logging.getLogger("pipeline.tracking")

MAX_QUEUE = 100_000  # events kept in memory while the database cannot be written
MAX_EDITIONS = 64  # link tables cached per process


@dataclass(frozen=True)
class Hit:
    """One open or click as it arrived (only the request verdict, never the request)."""

    kind: str  # open | click
    #: who: the subscriber's public id (what a tracking token carries), or a row id for a
    #: link signed before tokens carried public ids (and for callers inside the pipeline)
    subscriber: str | int
    edition_id: int
    link_index: int | None
    at: datetime
    verdict: Verdict


class Recorder:
    """A queue of hits and the batch writer that classifies and stores them."""

    def __init__(self, settings: Settings, engine: Engine, *, interval: float = 0.2) -> None:
        self.settings = settings
        self.engine = engine
        self.interval = interval
        self._queue: list[Hit] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def add(self, hit: Hit) -> None:
        with self._lock:
            if len(self._queue) >= MAX_QUEUE:
                self.dropped += 1
                return
            self._queue.append(hit)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def start(self) -> None:
        """Write the queue every ``interval`` seconds in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tracking-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> int:
        """Write the queued hits; returns how many events were stored. When the database
        cannot be written the hits stay queued for the next call."""
        with self._write_lock:
            with self._lock:
                batch, self._queue = self._queue, []
            if not batch:
                return 0
            try:
                return write_hits(self.settings, self.engine, batch)
            except DBAPIError as exc:
                log.warning("tracking events not written yet (%s); will retry", exc.orig)
                with self._lock:
                    self._queue[:0] = batch[: MAX_QUEUE - len(self._queue)]
                return 0


def event_key(kind: str, delivery_id: int, link: int | None, at: datetime) -> str:
    return f"t:{kind}:{delivery_id}:{'' if link is None else link}:{int(at.timestamp())}"


def write_hits(settings: Settings, engine: Engine, hits: Sequence[Hit]) -> int:
    """Classify ``hits`` against their deliveries' history and store them (one
    transaction). Returns the number of new events. A hit without a delivery (the person
    was erased) or from a person who has since turned tracking off is not stored."""
    cfg = settings.tracking
    with engine.begin() as conn:
        found = _deliveries(conn, hits)
        history = _recent_clicks(conn, [d[0] for d in found.values()], hits)
        rows: dict[str, dict[str, Any]] = {}
        flips: dict[int, str] = {}  # stored clicks a burst or honeypot makes machine: reason
        for hit in hits:
            delivery = found.get((hit.edition_id, hit.subscriber))
            if delivery is None:
                continue
            delivery_id, sent_at = delivery
            verdict = hit.verdict
            if (
                hit.kind == "open"
                and verdict.human
                and sent_at is not None
                and hit.at - sent_at <= timedelta(seconds=cfg.prefetch_seconds)
            ):
                verdict = Verdict("machine", "prefetch")
            key = event_key(hit.kind, delivery_id, hit.link_index, hit.at)
            if key in rows:
                continue
            row: dict[str, Any] = {
                "provider_event_id": key,
                "delivery_id": delivery_id,
                "edition_id": hit.edition_id,
                "event": hit.kind,
                "detail": {},
                "occurred_at": hit.at,
                "received_at": hit.at,
                "verdict": verdict.verdict,
                "reason": verdict.reason,
                "link_index": hit.link_index,
                "source": "tracking",
            }
            if hit.kind == "click":
                clicks = history.setdefault(delivery_id, [])
                _judge_click(cfg.burst_seconds, cfg.burst_links, row, clicks, flips)
                clicks.append(row)
            rows[key] = row
        known = set(
            conn.execute(
                select(delivery_events.c.provider_event_id).where(
                    delivery_events.c.provider_event_id.in_(list(rows))
                )
            ).scalars()
        )
        new = [r for k, r in rows.items() if k not in known]
        if new:
            conn.execute(insert(delivery_events), new)
        for reason in sorted(set(flips.values())):
            conn.execute(
                update(delivery_events)
                .where(
                    delivery_events.c.id.in_(sorted(i for i, r in flips.items() if r == reason)),
                    delivery_events.c.verdict == "human",
                )
                .values(verdict="machine", reason=reason)
            )
    return len(new)


def _judge_click(
    burst_seconds: float,
    burst_links: int,
    row: dict[str, Any],
    clicks: list[dict[str, Any]],
    flips: dict[int, str],
) -> None:
    """Apply the honeypot and burst rules to a new click ``row`` given the delivery's
    earlier ``clicks`` (stored rows carry an ``id``; rows of this batch do not)."""
    at: datetime = row["occurred_at"]
    honeypot = row["link_index"] == HONEYPOT or any(
        c["link_index"] == HONEYPOT and abs(c["occurred_at"] - at) <= HONEYPOT_WINDOW
        for c in clicks
    )
    window = timedelta(seconds=burst_seconds)
    near = [c for c in clicks if at - c["occurred_at"] <= window]
    links = {c["link_index"] for c in near} | {row["link_index"]}
    burst = len(links) >= burst_links
    if not (honeypot or burst):
        return
    reason = "honeypot" if honeypot else "burst"
    if row["verdict"] == "human":
        row["verdict"], row["reason"] = "machine", reason
    marked = (
        [c for c in clicks if abs(c["occurred_at"] - at) <= HONEYPOT_WINDOW] if honeypot else near
    )
    for c in marked:
        if c["verdict"] == "human":
            c["verdict"], c["reason"] = "machine", reason
            if "id" in c:
                flips[c["id"]] = reason


def _deliveries(
    conn: Connection, hits: Iterable[Hit]
) -> dict[tuple[int, str | int], tuple[int, datetime | None]]:
    """(edition, who) -> (delivery id, sent at) for the hits' recipients who still exist
    and allow tracking. An erased person's public id matches no subscriber: nothing."""
    out: dict[tuple[int, str | int], tuple[int, datetime | None]] = {}
    hits = list(hits)
    by_public = sorted(
        {(h.edition_id, h.subscriber) for h in hits if isinstance(h.subscriber, str)}
    )
    by_row = sorted({(h.edition_id, h.subscriber) for h in hits if isinstance(h.subscriber, int)})
    for column, pairs in ((subscribers.c.public_id, by_public), (subscribers.c.id, by_row)):
        for start in range(0, len(pairs), 500):
            chunk = pairs[start : start + 500]
            query = (
                select(deliveries.c.id, deliveries.c.edition_id, column, deliveries.c.sent_at)
                .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                .where(
                    tuple_(deliveries.c.edition_id, column).in_(chunk),
                    subscribers.c.tracking.is_(True),
                )
            )
            for delivery_id, edition_id, who, sent_at in conn.execute(query):
                out[(edition_id, who)] = (delivery_id, sent_at)
    return out


def _recent_clicks(
    conn: Connection, delivery_ids: Sequence[int], hits: Sequence[Hit]
) -> dict[int, list[dict[str, Any]]]:
    """Stored clicks of these deliveries close enough in time to matter."""
    clicks = [h for h in hits if h.kind == "click"]
    if not clicks or not delivery_ids:
        return {}
    since = min(h.at for h in clicks) - HONEYPOT_WINDOW
    out: dict[int, list[dict[str, Any]]] = {}
    ids = sorted(set(delivery_ids))
    for start in range(0, len(ids), 500):
        query = select(
            delivery_events.c.id,
            delivery_events.c.delivery_id,
            delivery_events.c.link_index,
            delivery_events.c.occurred_at,
            delivery_events.c.verdict,
            delivery_events.c.reason,
        ).where(
            and_(
                delivery_events.c.delivery_id.in_(ids[start : start + 500]),
                delivery_events.c.event == "click",
                delivery_events.c.occurred_at >= since,
            )
        )
        for row in conn.execute(query):
            out.setdefault(row.delivery_id, []).append(dict(row._mapping))
    return out


# ---- the request side -----------------------------------------------------------------------
class Tracker:
    """What the web face calls for ``/l/{token}/{index}`` and ``/o/{token}.gif``."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Clock | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock or SystemClock()
        self.recorder = recorder or Recorder(settings, engine)
        self._links: OrderedDict[int, dict[int, str]] = OrderedDict()
        self._links_lock = threading.Lock()

    def _read(self, token: str) -> tuple[str | int, int] | None:
        """(who, edition) from a tracking token: the public id it carries, or the row id
        of a link signed before public ids (short digits; a public id is 32 hex)."""
        try:
            data = read_token(self.settings.keys, "track", token[:300])
        except WebError:
            return None
        if data.edition_id is None or not data.subject:
            return None
        who: str | int = data.subject
        if data.subject.isdigit() and len(data.subject) < PUBLIC_ID_LENGTH:
            who = int(data.subject)
        return who, data.edition_id

    def links_of(self, edition_id: int) -> dict[int, str]:
        """The edition's link table (index -> target), cached per process."""
        with self._links_lock:
            found = self._links.get(edition_id)
            if found is not None:
                self._links.move_to_end(edition_id)
                return found
        # A plain read on the DBAPI connection: on SQLite the engine's transactions begin
        # IMMEDIATE (a write lock), and a redirect must not wait for another writer.
        query = select(edition_links.c.link_index, edition_links.c.url).where(
            edition_links.c.edition_id == int(edition_id)
        )
        sql = str(query.compile(self.engine, compile_kwargs={"literal_binds": True}))
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql)
            rows = cursor.fetchall()
            cursor.close()
        finally:
            raw.close()
        table = {int(index): str(url) for index, url in rows}
        if table:  # an edition's links never change once it is sent
            with self._links_lock:
                self._links[edition_id] = table
                while len(self._links) > MAX_EDITIONS:
                    self._links.popitem(last=False)
        return table

    def click(self, token: str, index: str, *, method: str, user_agent: str, ip: str) -> str | None:
        """The target of a tracked link (None when the token or index is not valid); the
        click is queued for recording."""
        if not index.isascii() or not index.isdigit() or len(index) > 6:
            return None
        who = self._read(token)
        if who is None:
            return None
        target = self.links_of(who[1]).get(int(index))
        if target is None:
            return None
        verdict = request_verdict(
            self.settings.tracking, "click", method=method, user_agent=user_agent, ip=ip
        )
        self.recorder.add(Hit("click", who[0], who[1], int(index), self.clock.now(), verdict))
        return target

    def open(self, token: str, *, method: str, user_agent: str, ip: str) -> bool:
        """Queue an open for the pixel's token; False when the token is not valid."""
        who = self._read(token)
        if who is None:
            return False
        verdict = request_verdict(
            self.settings.tracking, "open", method=method, user_agent=user_agent, ip=ip
        )
        self.recorder.add(Hit("open", who[0], who[1], None, self.clock.now(), verdict))
        return True
