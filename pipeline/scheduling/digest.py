"""The recurring digest: ``newsletter digest run``, meant for cron (part of scheduling: it
reads the feeds stage upstream, never the other way round).

On a digest day (``[digest] days``, in the newsletter's time zone) it drafts
``issues/digest-<date>/`` from the unused inbox entries (``tags``, at most ``max_entries``),
builds and checks it, and then either leaves it for the editor or, with ``auto_schedule``,
schedules it for ``time`` that day. With fewer than ``min_entries`` new entries it skips
and says so. Running it twice on one day does nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine

from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.content.issues import display_path
from pipeline.errors import ConfigError, NewsletterError
from pipeline.feeds.draft import draft_issue
from pipeline.feeds.inbox import list_entries
from pipeline.scheduling.plan import schedule_issue
from pipeline.sending.editions import build_checked

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class DigestReport:
    status: str  # skipped | drafted | scheduled | needs_editor
    message: str
    slug: str = ""
    folder: Path | None = None
    entries: int = 0
    send_at: datetime | None = None
    problems: list[str] = field(default_factory=list)


def digest_days(settings: Settings) -> list[int]:
    """``[digest] days`` as weekday numbers (Monday is 0); 'daily' means every day."""
    found: list[int] = []
    for value in settings.digest.days:
        key = value.strip().lower()
        if key in ("daily", "every day", "*"):
            return list(range(7))
        if key[:3] not in DAYS:
            raise ConfigError(
                f"newsletter.toml: digest.days: unknown day {value!r}",
                fix="use mon, tue, wed, thu, fri, sat, sun or daily",
            )
        found.append(DAYS.index(key[:3]))
    return sorted(set(found))


def digest_time(settings: Settings) -> time:
    try:
        return time.fromisoformat(settings.digest.time.strip())
    except ValueError:
        raise ConfigError(
            f"newsletter.toml: digest.time: {settings.digest.time!r} is not a time of day",
            fix="write it as HH:MM, e.g. 09:00",
        ) from None


def check_problems(settings: Settings, engine: Engine, slug: str) -> list[str]:
    """The errors of building and checking the issue (empty when it is fine)."""
    try:
        build = build_checked(settings, engine, slug, web=False)
    except NewsletterError as exc:
        return [str(exc)]
    return [str(finding) for finding in build.errors]


def run_digest(
    settings: Settings, engine: Engine, *, clock: Clock | None = None, force: bool = False
) -> DigestReport:
    """One cron run of the digest. ``force`` ignores ``enabled`` and ``days``."""
    digest = settings.digest
    now = (clock or SystemClock()).now()
    local = now.astimezone(settings.newsletter.tz)
    days = digest_days(settings)
    at = digest_time(settings)
    if not digest.enabled and not force:
        return DigestReport(
            "skipped", "the digest is off (set enabled = true under [digest] in newsletter.toml)"
        )
    if local.weekday() not in days and not force:
        on = ", ".join(DAY_NAMES[d] for d in days)
        return DigestReport(
            "skipped", f"today is {DAY_NAMES[local.weekday()]}; the digest runs on {on}"
        )
    slug = f"digest-{local.date().isoformat()}"
    folder = settings.issues_dir / slug
    if folder.exists():
        shown = display_path(settings, folder)
        return DigestReport("skipped", f"{shown} exists already; nothing to do", slug=slug)
    entries = list_entries(engine, tags=digest.tags, unused_only=True, limit=digest.max_entries)
    if len(entries) < digest.min_entries:
        return DigestReport(
            "skipped",
            f"only {len(entries)} new inbox entr{'y' if len(entries) == 1 else 'ies'}"
            f" (min_entries is {digest.min_entries}); no digest drafted",
        )
    subject = digest.subject.format(
        name=settings.newsletter.name, date=f"{local.day} {local:%B %Y}"
    )
    folder = draft_issue(
        settings,
        engine,
        slug,
        entries,
        now=now,
        subject=subject,
        lists=digest.lists or None,
        template=digest.template,
    )
    shown = display_path(settings, folder)
    report = DigestReport("drafted", "", slug=slug, folder=folder, entries=len(entries))
    report.problems = check_problems(settings, engine, slug)
    if report.problems:
        report.status = "needs_editor"
        report.message = (
            f"drafted {shown} from {len(entries)} entries, but the check found"
            f" {len(report.problems)} error(s); fix them, then schedule it by hand"
        )
        return report
    if not digest.auto_schedule:
        report.message = (
            f"drafted {shown} from {len(entries)} entries; review it, then"
            f" 'newsletter issue schedule {slug} --at ...'"
        )
        return report
    send_at = datetime.combine(local.date(), at, tzinfo=settings.newsletter.tz)
    soonest = (local + timedelta(minutes=1)).replace(second=0, microsecond=0)
    send_at = max(send_at, soonest)  # past the digest time already: as soon as cron runs
    try:
        scheduled = schedule_issue(
            settings, engine, slug, at=send_at.isoformat(), clock=clock or SystemClock()
        )
    except NewsletterError as exc:
        report.status = "needs_editor"
        report.problems = [str(exc)]
        report.message = (
            f"drafted {shown} from {len(entries)} entries, but it could not be scheduled;"
            " fix it, then schedule it by hand"
        )
        return report
    report.status = "scheduled"
    report.send_at = scheduled.send_at
    report.message = (
        f"drafted {shown} from {len(entries)} entries and scheduled it for {scheduled.local}"
    )
    return report
