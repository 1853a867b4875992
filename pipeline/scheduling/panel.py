"""One issue as the studio's issue page shows it: its state (as ``issue list`` says it), its
edition's progress when one exists, and the time picker's value in the newsletter's zone."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from pipeline.clock import Clock
from pipeline.config import Settings
from pipeline.content.issues import load_issue
from pipeline.content.models import Issue
from pipeline.errors import ContentError, NewsletterError
from pipeline.scheduling.overview import IssueState, issue_states
from pipeline.sending.editions import Edition, find_edition
from pipeline.sending.report import EditionStatus, edition_status


@dataclass(frozen=True)
class IssuePanel:
    slug: str
    state: IssueState
    issue: Issue | None  # None when the folder does not load
    load_error: str
    edition: Edition | None
    status: EditionStatus | None
    picker_value: str  # "YYYY-MM-DDTHH:MM" in the newsletter's zone, for datetime-local
    picker_min: str

    @property
    def percent(self) -> int:
        if self.status is None or not self.status.total:
            return 0
        done = self.status.total - self.status.counts.get("pending", 0)
        done -= self.status.counts.get("in_flight", 0)
        return 100 * done // self.status.total

    @property
    def can_schedule(self) -> bool:
        return self.edition is None or self.edition.status in ("frozen", "missed")

    @property
    def can_reschedule(self) -> bool:
        return self.edition is not None and self.edition.status == "scheduled"

    @property
    def can_unschedule(self) -> bool:
        return self.edition is not None and self.edition.status in ("scheduled", "missed")

    @property
    def can_cancel(self) -> bool:
        return self.edition is not None and self.edition.status in (
            "frozen",
            "scheduled",
            "sending",
            "paused",
        )


def issue_panel(settings: Settings, engine: Engine, slug: str, *, clock: Clock) -> IssuePanel:
    """The panel of ``slug``; ContentError when there is no such issue folder."""
    found = [s for s in issue_states(settings, engine) if s.summary.slug == slug]
    if not found:
        raise ContentError(f"issue '{slug}' not found", fix="see the dashboard")
    issue: Issue | None = None
    error = ""
    try:
        issue = load_issue(settings, slug)
    except NewsletterError as exc:
        error = str(exc)
    edition = find_edition(engine, slug)
    status = edition_status(engine, edition, clock=clock) if edition is not None else None
    tz = settings.newsletter.tz
    now = clock.now().astimezone(tz)
    when = edition.send_at if edition is not None and edition.send_at else None
    if when is None and issue is not None and issue.send_at is not None:
        when = issue.send_at
    value = when.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if when else ""
    return IssuePanel(
        slug, found[0], issue, error, edition, status, value, now.strftime("%Y-%m-%dT%H:%M")
    )
