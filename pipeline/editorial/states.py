"""What a review state is, read without SQLAlchemy, and why it may not be sent.

    states_of(settings, db)           every issue ever submitted -> ReviewState (issue list)
    review_state / review_event       a state and a log line from their rows
    refusal(settings, state, frozen)  why it may not be scheduled or sent (reads only)

``newsletter issue list`` reads the states through ``pipeline.store.reader`` (plain SQL,
no SQLAlchemy to import); ``review`` changes them, and reads one issue's with SQLAlchemy
(``state_of``), into the same ``ReviewState``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.config import Settings
from pipeline.editorial.hashing import source_hash
from pipeline.errors import ContentError, NotApproved
from pipeline.store.reader import Reader, as_reader, utc, utc_or_none

if TYPE_CHECKING:
    from sqlalchemy import Engine

STATES: tuple[str, ...] = ("draft", "in_review", "approved", "scheduled")
ACTIONS: tuple[str, ...] = (
    "submitted",
    "approved",
    "rejected",
    "voided",
    "scheduled",
    "unscheduled",
)


@dataclass(frozen=True)
class ReviewEvent:
    """One line of an issue's review log."""

    action: str  # one of ACTIONS
    by: str
    at: datetime
    reason: str | None = None
    content_hash: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "by": self.by,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "content_hash": self.content_hash,
        }


@dataclass(frozen=True)
class ReviewState:
    """Where an issue stands in review. ``state`` is the effective state: an approved or
    scheduled issue whose files changed since is a ``draft`` (``changed_since_approval``)."""

    slug: str
    state: str  # one of STATES
    changed_since_approval: bool = False
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    approved_hash: str | None = None
    current_hash: str | None = None  # None when the issue folder is gone
    log: tuple[ReviewEvent, ...] = ()

    @property
    def rejection(self) -> ReviewEvent | None:
        """The rejection that made this issue a draft again, if that was the last step."""
        if self.state == "draft" and self.log and self.log[-1].action == "rejected":
            return self.log[-1]
        return None

    @property
    def label(self) -> str:
        """draft, in review, approved, scheduled, rejected, changed since approval."""
        if self.changed_since_approval:
            return "changed since approval"
        if self.rejection is not None:
            return "rejected"
        return self.state.replace("_", " ")

    @property
    def short_label(self) -> str:
        """``label`` for a table column: "changed" for changed since approval."""
        return "changed" if self.changed_since_approval else self.label

    def as_dict(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        rejection = self.rejection
        return {
            "slug": self.slug,
            "state": self.state,
            "label": self.label,
            "changed_since_approval": self.changed_since_approval,
            "submitted_by": self.submitted_by,
            "submitted_at": when(self.submitted_at),
            "approved_by": self.approved_by,
            "approved_at": when(self.approved_at),
            "approved_hash": self.approved_hash,
            "current_hash": self.current_hash,
            "rejection": rejection.as_dict() if rejection is not None else None,
            "log": [event.as_dict() for event in self.log],
        }


# ---- reading ---------------------------------------------------------------------------
def current_hash(settings: Settings, slug: str) -> str | None:
    """The hash of the issue folder's files now; None when the folder is gone."""
    try:
        return source_hash(settings, slug)
    except ContentError:
        return None


def review_state(
    row: Mapping[str, Any] | None, events: list[ReviewEvent], current: str | None, slug: str
) -> ReviewState:
    """The state of ``slug`` from its ``issue_reviews`` row (None: never submitted), its
    log, and the hash of its files now."""
    if row is None:
        return ReviewState(slug=slug, state="draft", current_hash=current)
    stored = str(row["state"])
    approved = stored in ("approved", "scheduled")
    changed = approved and current != row["approved_hash"]
    voided = stored == "draft" and bool(events) and events[-1].action == "voided"
    return ReviewState(
        slug=slug,
        state="draft" if changed else stored,
        changed_since_approval=changed or voided,
        submitted_by=row["submitted_by"],
        submitted_at=utc_or_none(row["submitted_at"]),
        approved_by=row["approved_by"],
        approved_at=utc_or_none(row["approved_at"]),
        approved_hash=row["approved_hash"],
        current_hash=current,
        log=tuple(events),
    )


def review_event(row: Mapping[str, Any]) -> ReviewEvent:
    """A line of the log from its ``issue_review_log`` row."""
    return ReviewEvent(row["action"], row["by"], utc(row["at"]), row["reason"], row["content_hash"])


_REVIEWS = (
    "SELECT slug, state, submitted_by, submitted_at, approved_by, approved_at, approved_hash"
    " FROM issue_reviews"
)
_LOG = 'SELECT slug, action, "by", at, reason, content_hash FROM issue_review_log ORDER BY id'


def states_of(settings: Settings, db: Engine | Reader) -> dict[str, ReviewState]:
    """Every issue that was ever submitted, by slug (the others are drafts)."""
    reader = as_reader(db)
    events: dict[str, list[ReviewEvent]] = {}
    for row in reader.rows(_LOG):
        events.setdefault(row["slug"], []).append(review_event(row))
    return {
        row["slug"]: review_state(
            row, events.get(row["slug"], []), current_hash(settings, row["slug"]), row["slug"]
        )
        for row in reader.rows(_REVIEWS)
    }


# ---- why not ---------------------------------------------------------------------------
def local_day(when: datetime | None, settings: Settings) -> str:
    if when is None:
        return "an unknown time"
    return when.astimezone(settings.newsletter.tz).strftime("%Y-%m-%d %H:%M %Z")


def void_message(settings: Settings, state: ReviewState) -> str:
    who = state.approved_by
    if who is None:  # already recorded: the names are in the log
        voided = next((e for e in reversed(state.log) if e.action == "voided"), None)
        return f"{state.slug} changed since it was approved" + (
            f" ({voided.reason})" if voided and voided.reason else ""
        )
    return (
        f"{state.slug} changed since {who} approved it on {local_day(state.approved_at, settings)}"
    )


def refusal(settings: Settings, state: ReviewState, *, frozen: bool = False) -> NotApproved | None:
    """Why ``state`` may not be scheduled or sent when approval is required (``frozen``:
    may an edition frozen earlier be sent), as the error ``check_approved`` raises; None
    when it may. Reads only: a studio page or ``issue status`` can show it."""
    slug = state.slug
    submit_fix = (
        f"submit it for review: 'newsletter issue submit {slug} --by NAME', then another "
        f"person approves it: 'newsletter issue approve {slug} --by NAME'"
    )
    if state.changed_since_approval:
        return NotApproved(
            f"{void_message(settings, state)}: the approval is void "
            "([editorial] require_approval = true)",
            fix=submit_fix,
        )
    if state.state == "scheduled" or (state.state == "approved" and not frozen):
        return None
    if state.state == "approved":
        return NotApproved(
            f"{slug} was approved again after its edition was frozen, so the edition is not "
            "what was approved",
            fix=f"freeze the approved files: 'newsletter issue reschedule {slug}'",
        )
    if state.state == "in_review":
        return NotApproved(
            f"{slug} is in review and not approved yet (submitted by {state.submitted_by}; "
            "[editorial] require_approval = true)",
            fix=f"an approver runs 'newsletter issue approve {slug} --by NAME'",
        )
    rejection = state.rejection
    if rejection is not None:
        return NotApproved(
            f"{slug} was rejected by {rejection.by} on {local_day(rejection.at, settings)}: "
            f"{rejection.reason}",
            fix=f"edit it, then 'newsletter issue submit {slug} --by NAME'",
        )
    return NotApproved(
        f"{slug} is not approved ([editorial] require_approval = true)", fix=submit_fix
    )
