"""Editions: a built issue frozen into the database, and its states.

An edition holds everything a send needs (the compiled personalisation, the content hash,
the audience lists), so sending never renders again. Its states, and who moves it:

    frozen ──> scheduled ──> sending ──> sent
      │            │            │ ^
      │            │            v │
      │            │          paused
      └────────────┴────> cancelled        scheduled ──> missed (too late to send)

``transition`` is the only way a state changes: one ``UPDATE ... WHERE status IN (...)``,
so of two processes racing for the same change exactly one wins.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.clock import Clock, FixedClock, SystemClock
from pipeline.config import Settings
from pipeline.content.dates import send_time
from pipeline.editorial.review import check_approved, mark_scheduled
from pipeline.errors import CheckFailed, SendError
from pipeline.render.personalise import CompiledEdition
from pipeline.sending.audience import require_audience
from pipeline.store.rows import from_row
from pipeline.store.tables import deliveries, edition_links, edition_variants, editions
from pipeline.tracking.links import Link

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.render.build import Build
    from pipeline.render.findings import Finding

RECENT_DAYS = 60  # how far back the duplicate check looks for sent editions

STATES: tuple[str, ...] = (
    "frozen",
    "scheduled",
    "sending",
    "paused",
    "cancelled",
    "sent",
    "missed",
)
#: States in which an edition may be frozen again (nothing has been sent yet).
REFREEZABLE: tuple[str, ...] = ("frozen", "scheduled", "missed")


class EditionStarted(SendError):
    """The edition has started sending (perhaps a moment ago, in another process) and can
    no longer be frozen again."""


def can_refreeze(status: str, deliveries: int) -> bool:
    """Nothing was sent yet: a frozen, scheduled or missed edition with an empty ledger, or
    one marked ``sent`` after reaching nobody (before sending to 0 people was refused)."""
    return deliveries == 0 and (status in REFREEZABLE or status == "sent")


@dataclass(frozen=True)
class Edition:
    id: int
    slug: str
    status: str
    subject: str
    content_hash: str
    lists: list[str]
    segment: str | None
    segment_condition: str | None
    send_at: datetime | None
    compiled: CompiledEdition
    web_html: str
    transport: str | None
    pause_reason: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    created_at: datetime
    frozen_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    ab_test: dict[str, Any] | None = None  # {"sample", "wait_seconds", "winner_by"}
    ab_winner: int | None = None
    ab_decision: dict[str, Any] | None = None
    send_at_local: str | None = None  # "2027-01-10 09:00": each reader's wall clock


@dataclass(frozen=True)
class Variant:
    """One subject of an A/B test, with the edition compiled with it."""

    index: int
    subject: str
    preheader: str
    compiled: CompiledEdition


def edition_variants_of(engine: Engine, edition_id: int) -> list[Variant]:
    """The subject variants of an edition (empty when it is no A/B test), in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(edition_variants)
            .where(edition_variants.c.edition_id == edition_id)
            .order_by(edition_variants.c.variant)
        ).all()
    return [
        Variant(r.variant, r.subject, r.preheader, CompiledEdition.from_bytes(bytes(r.compiled)))
        for r in rows
    ]


def _edition(row: Any) -> Edition:
    return from_row(
        Edition, row, lists=list(row.lists), compiled=CompiledEdition.from_bytes(row.compiled)
    )


def find_edition(engine: Engine, slug: str) -> Edition | None:
    """The edition called ``slug``, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(editions).where(editions.c.slug == slug)).first()
    return _edition(row) if row is not None else None


def get_edition(engine: Engine, slug: str) -> Edition:
    """The edition called ``slug``; SendError when it was never frozen."""
    found = find_edition(engine, slug)
    if found is None:
        raise SendError(
            f"no edition {slug!r} in the database",
            fix=f"run 'newsletter issue send {slug}' or 'newsletter issue schedule {slug}'",
        )
    return found


def edition_by_id(engine: Engine, edition_id: int) -> Edition:
    with engine.connect() as conn:
        row = conn.execute(select(editions).where(editions.c.id == edition_id)).first()
    if row is None:
        raise SendError(f"no edition with id {edition_id}")
    return _edition(row)


def transition(
    engine: Engine, edition_id: int, from_states: Iterable[str], to_state: str, **fields: Any
) -> bool:
    """Move an edition from one of ``from_states`` to ``to_state`` (setting ``fields`` too),
    atomically. True if this caller made the change, False if the edition was elsewhere."""
    allowed = list(from_states)
    if to_state not in STATES or any(s not in STATES for s in allowed):
        raise ValueError(f"unknown edition state in {allowed} -> {to_state}")
    with engine.begin() as conn:
        result = conn.execute(
            update(editions)
            .where(editions.c.id == edition_id, editions.c.status.in_(allowed))
            .values(status=to_state, **fields)
        )
    return bool(result.rowcount == 1)


def store_edition(
    engine: Engine,
    slug: str,
    compiled: CompiledEdition,
    *,
    lists: list[str],
    content_hash: str,
    segment: str | None = None,
    segment_condition: str | None = None,
    web_html: str = "",
    status: str = "frozen",
    send_at: datetime | None = None,
    clock: Clock | None = None,
    links: Sequence[Link] = (),
    variants: Sequence[tuple[str, str, CompiledEdition]] = (),
    ab_test: dict[str, Any] | None = None,
    send_at_local: str | None = None,
) -> int:
    """Insert an edition, or replace one that has not started; return its id. ``links`` is
    its link table (``pipeline.tracking``), stored with it; ``variants`` (subject,
    preheader, compiled) and ``ab_test`` make it an A/B subject test; ``send_at_local``
    sends it at that wall-clock time in each reader's zone."""
    if status not in ("frozen", "scheduled"):
        raise ValueError(f"an edition is stored as frozen or scheduled, not {status!r}")
    now = (clock or SystemClock()).now()
    values: dict[str, Any] = {
        "status": status,
        "subject": compiled.subject.fill({}),
        "content_hash": content_hash,
        "lists": list(lists),
        "segment": segment or None,
        "segment_condition": segment_condition if segment else None,
        "compiled": compiled.to_bytes(),
        "web_html": web_html,
        "send_at": send_at,
        "pause_reason": None,
        "frozen_at": now,
        # A refrozen edition has not started (one "sent" to nobody had these set).
        "started_at": None,
        "finished_at": None,
        "claimed_by": None,
        "claimed_at": None,
        "ab_test": {**ab_test, "variants": len(variants)} if variants and ab_test else None,
        "ab_winner": None,
        "ab_decision": None,
        "send_at_local": send_at_local,
    }
    rows = [
        {"variant": i, "subject": subject, "preheader": preheader, "compiled": c.to_bytes()}
        for i, (subject, preheader, c) in enumerate(variants)
    ]
    for attempt in (1, 2):
        try:
            return _store(engine, slug, values, now, links, rows)
        except IntegrityError:  # another process inserted the same slug a moment ago
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store(
    engine: Engine,
    slug: str,
    values: dict[str, Any],
    now: datetime,
    links: Sequence[Link],
    variants: list[dict[str, Any]],
) -> int:
    with engine.begin() as conn:
        # Locked, so a concurrent start (``ledger.start_edition`` locks the same row) is
        # either finished before this check or waits until this refreeze is done.
        row = conn.execute(
            select(editions.c.id, editions.c.status)
            .where(editions.c.slug == slug)
            .with_for_update()
        ).first()
        if row is None:
            new_id = conn.execute(
                insert(editions).values(slug=slug, created_at=now, **values)
            ).inserted_primary_key
            assert new_id is not None
            _store_links(conn, int(new_id[0]), links)
            _store_variants(conn, int(new_id[0]), variants)
            return int(new_id[0])
        started = conn.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.edition_id == row.id)
        ).scalar_one()
        if not can_refreeze(row.status, started):
            raise EditionStarted(
                f"edition {slug!r} is {row.status} and can no longer be changed",
                fix="copy the issue to a new folder (a new slug) to send it again",
            )
        conn.execute(update(editions).where(editions.c.id == row.id).values(**values))
        _store_links(conn, int(row.id), links)
        _store_variants(conn, int(row.id), variants)
        return int(row.id)


def recent_texts(
    engine: Engine, slug: str, clock: Clock | None = None, days: int = RECENT_DAYS
) -> list[tuple[str, str]]:
    """(slug, text part) of editions sent in the last ``days`` days, except ``slug``: what
    the duplicate check compares an issue's articles with."""
    since = (clock or SystemClock()).now() - timedelta(days=days)
    query = (
        select(editions.c.slug, editions.c.compiled)
        .where(editions.c.status == "sent")
        .where(editions.c.slug != slug)
        .where(func.coalesce(editions.c.finished_at, editions.c.frozen_at) >= since)
    )
    with engine.connect() as conn:
        return [
            (row.slug, CompiledEdition.from_bytes(bytes(row.compiled)).text.fill({}))
            for row in conn.execute(query)
        ]


def build_checked(
    settings: Settings,
    engine: Engine | None,
    slug: str,
    *,
    web: bool = True,
    clock: Clock | None = None,
    folder: Path | None = None,
) -> Build:
    """``build_issue`` plus the check against the editions sent lately (when there is a
    database): what ``issue check``, the digest and the studio's preview run (``folder``: a
    draft copy of the issue folder)."""
    from pipeline.render.build import build_issue
    from pipeline.subscribers.tags import known_fields

    recent = recent_texts(engine, slug, clock) if engine is not None else []
    fields = known_fields(settings, engine) if engine is not None else None
    return build_issue(settings, slug, web=web, recent=recent, fields=fields, folder=folder)


def checked_findings(
    settings: Settings, engine: Engine | None, slug: str, *, folder: Path | None = None
) -> tuple[list[Finding], Build | None]:
    """Every check (``build_checked``); an issue that does not load or render is one error
    finding naming its file and line: what ``issue check`` prints and the studio shows."""
    from pipeline.errors import NewsletterError, RenderError
    from pipeline.render.findings import error

    try:
        result = build_checked(settings, engine, slug, folder=folder)
    except NewsletterError as exc:
        code = "template" if isinstance(exc, RenderError) else "content"
        return [error(code, exc.what, exc.path or "issues", exc.line, exc.fix or "")], None
    return result.findings, result


def _store_links(conn: Connection, edition_id: int, links: Sequence[Link]) -> None:
    conn.execute(delete(edition_links).where(edition_links.c.edition_id == edition_id))
    if links:
        conn.execute(
            insert(edition_links),
            [
                {
                    "edition_id": edition_id,
                    "link_index": link.index,
                    "url": link.url,
                    "text": link.text,
                    "kind": link.kind,
                }
                for link in links
            ],
        )


def _store_variants(conn: Connection, edition_id: int, rows: list[dict[str, Any]]) -> None:
    conn.execute(delete(edition_variants).where(edition_variants.c.edition_id == edition_id))
    if rows:
        conn.execute(insert(edition_variants), [{"edition_id": edition_id, **r} for r in rows])


def freeze_edition(
    settings: Settings,
    engine: Engine,
    slug: str,
    *,
    status: str = "frozen",
    send_at: datetime | None = None,
    clock: Clock | None = None,
) -> int:
    """Build the issue, refuse on check errors or an empty audience, index its links
    for tracking (``pipeline.tracking``), and store (or refreeze) its edition. The issue's
    date is rendered from the edition's send time (``pipeline.content.dates``): ``send_at``, else
    the moment of freezing, which is stored as ``frozen_at``."""
    from pipeline.content.issues import load_issue
    from pipeline.render.build import build_issue, variant_editions
    from pipeline.sending.localtime import local_instant
    from pipeline.subscribers.audience import segment_filter
    from pipeline.subscribers.segments import segment_condition
    from pipeline.subscribers.tags import known_fields
    from pipeline.tracking.plan import index_links

    now = (clock or SystemClock()).now()
    clock = FixedClock(now)
    sent = send_time(send_at, now)
    local_at = load_issue(settings, slug).send_at_local
    if local_at is not None:  # the issue's date is the day each reader gets it
        sent = local_instant(local_at, settings.newsletter.tz)
    build = build_issue(settings, slug, fields=known_fields(settings, engine), sent=sent)
    errors = [f for f in build.findings if getattr(f, "level", "") == "error"]
    if errors:
        raise CheckFailed(
            f"{slug}: {len(errors)} check error(s) block sending",
            list(errors),
            fix=f"run 'newsletter issue check {slug}' and fix them",
        )
    segment = build.issue.segment or None
    condition = segment_condition(settings, segment) if segment else None
    where = segment_filter(engine, condition, now)
    require_audience(engine, slug, build.issue.lists, where=where, segment=segment)
    issue = build.issue
    compiled, links = index_links(settings, build.compiled, slug, issue.lists, issue.utm or None)
    variants = [
        (v.subject, v.preheader or issue.preheader, tracked)
        for v, one in zip(
            issue.variants,
            variant_editions(settings, issue, sent=sent),
            strict=True,
        )
        for tracked, _ in [index_links(settings, one, slug, issue.lists, issue.utm or None)]
    ]
    local = issue.send_at_local.strftime("%Y-%m-%d %H:%M") if issue.send_at_local else None
    return store_edition(
        engine,
        slug,
        compiled,
        links=links,
        lists=list(build.issue.lists),
        segment=segment,
        segment_condition=condition,
        content_hash=build.content_hash,
        web_html=build.web_html,
        status=status,
        send_at=send_at,
        clock=clock,
        variants=variants,
        ab_test=issue.ab_test.as_dict() if issue.ab_test else None,
        send_at_local=local,
    )


def freeze_for_sending(
    settings: Settings, engine: Engine, slug: str, *, clock: Clock | None = None
) -> Edition:
    """The edition ``issue send`` sends: the issue frozen (again) while nothing has been
    sent (also one "sent" to nobody), or, when another run started it meanwhile, that run's
    edition (this one joins). With ``[editorial] require_approval`` only an approved issue
    is frozen (NotApproved otherwise)."""
    existing = find_edition(engine, slug)
    # "sent" with an empty ledger: sent to nobody (before that was refused); store_edition
    # checks the ledger under a lock (can_refreeze).
    if existing is None or existing.status in (*REFREEZABLE, "sent"):
        now = clock or SystemClock()
        check_approved(settings, engine, slug, clock=now)  # [editorial] require_approval
        # EditionStarted: a concurrent `issue send` or `send-due` started it; join it.
        with contextlib.suppress(EditionStarted):
            freeze_edition(settings, engine, slug, clock=clock)
            mark_scheduled(engine, slug, clock=now)
    return get_edition(engine, slug)
