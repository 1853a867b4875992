"""Putting an issue on the schedule, taking it off, moving it, and noticing later edits.

``schedule_issue`` builds and checks the issue (``freeze_edition`` refuses on check errors),
reads the time (``--at``, else ``send_at`` in the issue's front matter) in the newsletter's
time zone, refuses a time in the past or one a daylight-saving change skips or repeats, and
freezes the edition as ``scheduled`` with ``send_at`` in UTC. With ``[editorial]
require_approval`` the issue must be approved first (``pipeline.editorial``), and its
review state becomes ``scheduled``. When the slug starts with a
date more than a day away from the send date, the result carries a warning: the issue is
dated by its send time (``pipeline.content.dates``), not by its folder's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.content.dates import schedule_warnings
from pipeline.editorial.review import check_approved, mark_scheduled, mark_unscheduled
from pipeline.errors import NewsletterError, ScheduleError
from pipeline.scheduling.timeparse import Fold, format_local, from_value, parse_when, zone
from pipeline.sending.editions import (
    Edition,
    can_refreeze,
    find_edition,
    freeze_edition,
    transition,
)
from pipeline.store.tables import deliveries

FRONT_MATTER_CHOICE = "write the offset in send_at"


@dataclass(frozen=True)
class Scheduled:
    """The outcome of schedule / reschedule."""

    edition_id: int
    slug: str
    send_at: datetime  # UTC
    local: str  # e.g. "2026-12-01 09:00 GMT"
    timezone: str
    source: str  # "--at", "front matter" or "kept"
    lists: tuple[str, ...]
    refrozen: bool  # an edition existed and was frozen again
    warnings: tuple[str, ...] = ()  # e.g. the slug's date is days away from send_at

    def as_dict(self) -> dict[str, object]:
        return {
            "edition_id": self.edition_id,
            "slug": self.slug,
            "send_at": self.send_at.isoformat(),
            "send_at_local": self.local,
            "timezone": self.timezone,
            "source": self.source,
            "lists": list(self.lists),
            "refrozen": self.refrozen,
            "warnings": list(self.warnings),
        }


def _tz(settings: Settings, tz_name: str | None) -> ZoneInfo:
    return zone(tz_name) if tz_name else settings.newsletter.tz


def front_matter_send_at(settings: Settings, slug: str, tz: ZoneInfo) -> datetime | None:
    """``send_at`` from ``issues/<slug>/issue.md``, read as written (so a local time that
    a daylight-saving change skips or repeats is refused, naming the file and line)."""
    from pipeline.content.frontmatter import parse_front_matter, read_text
    from pipeline.content.issues import display_path, load_issue

    issue = load_issue(settings, slug)
    if issue.send_at is None:
        return None
    label = display_path(settings, issue.path)
    raw = parse_front_matter(read_text(issue.path, label), label).data.get("send_at")
    if raw is None:
        return None
    try:
        return from_value(raw, tz, how_to_choose=FRONT_MATTER_CHOICE)
    except ScheduleError as exc:
        raise ScheduleError(
            f"send_at: {exc.what}", fix=exc.fix, path=label, line=issue.line_of("send_at")
        ) from None


def local_send_at(settings: Settings, engine: Engine, slug: str, clock: Clock) -> datetime | None:
    """For an issue with ``send_at_local``: when its earliest zone falls due (the zones of
    its audience now, and the newsletter's own); None for other issues."""
    from pipeline.content.issues import load_issue
    from pipeline.sending.audience import audience_zones
    from pipeline.sending.localtime import earliest, known_zone
    from pipeline.subscribers.audience import segment_filter
    from pipeline.subscribers.segments import segment_condition

    issue = load_issue(settings, slug)
    if issue.send_at_local is None:
        return None
    condition = segment_condition(settings, issue.segment) if issue.segment else None
    where = segment_filter(engine, condition, clock.now())
    zones = {z for z in audience_zones(engine, issue.lists, where) if known_zone(z)}
    return earliest(issue.send_at_local, zones | {settings.newsletter.timezone})


def _refuse_past(when: datetime, tz: ZoneInfo, clock: Clock, source: str) -> None:
    now = clock.now()
    if when <= now:
        raise ScheduleError(
            f"{format_local(when, tz)} is in the past: it is now {format_local(now, tz)}",
            fix="pick a later time" + (" with --at" if source != "--at" else ""),
        )


def _started(engine: Engine, edition_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(deliveries)
                .where(deliveries.c.edition_id == edition_id)
            ).scalar_one()
        )


def _refuse_started(edition: Edition, engine: Engine) -> None:
    if not can_refreeze(edition.status, _started(engine, edition.id)):
        fixes = {
            "sending": f"it is being sent; see 'newsletter issue status {edition.slug}'",
            "paused": f"resume it with 'newsletter issue resume {edition.slug}'",
        }
        raise ScheduleError(
            f"{edition.slug} is {edition.status} and can no longer be scheduled",
            fix=fixes.get(
                edition.status, "copy the issue to a new folder (a new slug) to send it again"
            ),
        )


def _freeze(
    settings: Settings,
    engine: Engine,
    slug: str,
    when: datetime,
    tz: ZoneInfo,
    source: str,
    clock: Clock,
    existed: bool,
) -> Scheduled:
    check_approved(settings, engine, slug, clock=clock)  # [editorial] require_approval
    edition_id = freeze_edition(
        settings, engine, slug, status="scheduled", send_at=when, clock=clock
    )
    mark_scheduled(engine, slug, clock=clock)
    found = find_edition(engine, slug)
    lists = tuple(found.lists) if found is not None else ()
    return Scheduled(
        edition_id=edition_id,
        slug=slug,
        send_at=when,
        local=format_local(when, tz),
        timezone=str(tz),
        source=source,
        lists=lists,
        refrozen=existed,
        warnings=tuple(schedule_warnings(slug, when, settings.newsletter.tz)),
    )


def schedule_issue(
    settings: Settings,
    engine: Engine,
    slug: str,
    *,
    at: str | None = None,
    tz_name: str | None = None,
    fold: Fold | None = None,
    clock: Clock,
) -> Scheduled:
    """Build, check and freeze ``slug`` to be sent at ``at`` (or its front matter's send_at)."""
    tz = _tz(settings, tz_name)
    existing = find_edition(engine, slug)
    if existing is not None:
        _refuse_started(existing, engine)
        if existing.status == "scheduled":
            raise ScheduleError(
                f"{slug} is already scheduled for {format_local(existing.send_at, tz)}",
                fix=f"use 'newsletter issue reschedule {slug} --at ...' to change the time"
                " or to freeze edited files again",
            )
    local = local_send_at(settings, engine, slug, clock)
    if local is not None and at is not None:
        raise ScheduleError(
            f"{slug} has send_at_local: each reader gets it at that time in their zone",
            fix=f"remove --at, or remove send_at_local from issues/{slug}/issue.md",
        )
    if local is not None:
        when, source = local, "send_at_local (the earliest zone)"
    elif at is not None:
        when, source = parse_when(at, tz, fold=fold), "--at"
    else:
        found = front_matter_send_at(settings, slug, tz)
        if found is None:
            raise ScheduleError(
                f"no time given for {slug}",
                fix=f"add --at '2026-12-01 09:00' or send_at in issues/{slug}/issue.md",
            )
        when, source = found, "front matter"
    _refuse_past(when, tz, clock, source)
    return _freeze(settings, engine, slug, when, tz, source, clock, existing is not None)


def reschedule_issue(
    settings: Settings,
    engine: Engine,
    slug: str,
    *,
    at: str | None = None,
    tz_name: str | None = None,
    fold: Fold | None = None,
    clock: Clock,
) -> Scheduled:
    """Freeze the edited files again, at a new time (``at``) or at the one already set."""
    tz = _tz(settings, tz_name)
    existing = find_edition(engine, slug)
    if existing is None:
        raise ScheduleError(
            f"{slug} is not scheduled", fix=f"use 'newsletter issue schedule {slug} --at ...'"
        )
    _refuse_started(existing, engine)
    local = local_send_at(settings, engine, slug, clock)
    if local is not None:
        if at is not None:
            raise ScheduleError(
                f"{slug} has send_at_local: each reader gets it at that time in their zone",
                fix=f"remove --at, or remove send_at_local from issues/{slug}/issue.md",
            )
        when, source = local, "send_at_local (the earliest zone)"
    elif at is not None:
        when, source = parse_when(at, tz, fold=fold), "--at"
    elif existing.send_at is not None and existing.status == "scheduled":
        when, source = existing.send_at, "kept"
    else:
        raise ScheduleError(
            f"{slug} is {existing.status} and has no time to keep",
            fix=f"give one: 'newsletter issue reschedule {slug} --at \"2026-12-01 09:00\"'",
        )
    _refuse_past(when, tz, clock, source)
    if existing.status != "scheduled":
        return _freeze(settings, engine, slug, when, tz, source, clock, True)
    # Off the schedule first (atomic: fails if a send-due run claimed it a moment ago), so
    # that no run can start it while it is being frozen again; back on if freezing fails.
    if not transition(engine, existing.id, ["scheduled"], "frozen"):
        raise ScheduleError(
            f"{slug} was claimed for sending a moment ago and can no longer be changed",
            fix=f"see 'newsletter issue status {slug}'",
        )
    try:
        return _freeze(settings, engine, slug, when, tz, source, clock, True)
    except BaseException:
        transition(engine, existing.id, ["frozen"], "scheduled")
        raise


def unschedule_issue(engine: Engine, slug: str, *, clock: Clock | None = None) -> Edition:
    """Take a scheduled (or missed) edition off the schedule; it stays frozen, unsent (and
    an approved issue is approved again, no longer scheduled)."""
    existing = find_edition(engine, slug)
    if existing is None or existing.status not in ("scheduled", "missed"):
        state = "not in the database" if existing is None else existing.status
        raise ScheduleError(
            f"{slug} is not scheduled (it is {state})",
            fix="'newsletter schedule' lists the scheduled editions",
        )
    if not transition(engine, existing.id, ["scheduled", "missed"], "frozen", send_at=None):
        raise ScheduleError(
            f"{slug} was claimed for sending a moment ago and can no longer be unscheduled",
            fix=f"see 'newsletter issue status {slug}'",
        )
    mark_unscheduled(engine, slug, clock=clock or SystemClock())
    return existing


def files_changed(settings: Settings, engine: Engine, slug: str) -> bool:
    """True when the issue's files no longer build to the frozen edition's content.

    False when there is no edition. A folder that no longer builds counts as changed.
    """
    from pipeline.render.build import build_issue

    edition = find_edition(engine, slug)
    if edition is None:
        return False
    try:
        build = build_issue(settings, slug)
    except NewsletterError:
        return True
    return bool(build.content_hash != edition.content_hash)
