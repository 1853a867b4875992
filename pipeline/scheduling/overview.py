"""Where each issue stands, for `newsletter issue list`: draft, check errors, in review,
approved, rejected, changed since approval, frozen, scheduled for when, held (scheduled but
no longer approved), sending with %, paused with %, sent when, missed, cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import Engine, case, func, select

from pipeline.config import Settings
from pipeline.content.issues import list_issues
from pipeline.content.models import IssueSummary
from pipeline.editorial.review import ReviewState, refusal, states_of
from pipeline.errors import NewsletterError
from pipeline.render.checkcache import draft_errors
from pipeline.store.tables import deliveries, editions

DONE = ("sent", "failed", "skipped", "cancelled")


@dataclass(frozen=True)
class IssueState:
    summary: IssueSummary
    state: str  # draft, check errors, frozen, scheduled, sending, paused, sent, missed, ...
    detail: str  # "2026-12-01 09:00", "45%", "3 errors", ...
    review: ReviewState | None = None  # None: never submitted for review

    @property
    def label(self) -> str:
        return f"{self.state} {self.detail}".strip()


def _progress(engine: Engine) -> dict[int, tuple[int, int]]:
    """Per edition id: (rows done, rows in all) of the ledger."""
    done = func.sum(case((deliveries.c.status.in_(DONE), 1), else_=0))
    query = select(deliveries.c.edition_id, done, func.count()).group_by(deliveries.c.edition_id)
    with engine.connect() as conn:
        return {row[0]: (int(row[1] or 0), int(row[2])) for row in conn.execute(query)}


def _draft_state(settings: Settings, summary: IssueSummary) -> tuple[str, str]:
    if summary.error:
        return "check errors", "(does not load)"
    try:
        errors = draft_errors(settings, summary.slug)  # built again only when changed
    except NewsletterError:
        return "check errors", "(does not build)"
    return ("check errors", f"({errors})") if errors else ("draft", "")


def _held(settings: Settings, review: ReviewState | None) -> bool:
    """A scheduled edition that ``send-due`` will not send: approval is required and the
    issue is not (or no longer) approved for the files it was frozen from."""
    if not settings.editorial.require_approval:
        return False
    return review is None or refusal(settings, review, frozen=True) is not None


def _why_held(review: ReviewState | None) -> str:
    if review is None:
        return "not approved"
    if review.state == "approved" and not review.changed_since_approval:
        return "reschedule"  # approved again after the edition was frozen
    return review.short_label


def _local(when: datetime, tz: tzinfo) -> str:
    """``2026-12-01 09:00`` on the newsletter's wall clock (the table says which zone)."""
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def issue_states(settings: Settings, engine: Engine) -> list[IssueState]:
    """Every issue folder, newest first, with its state (drafts are checked; the count
    is remembered until a file or setting changes: pipeline.render.checkcache)."""
    tz = settings.newsletter.tz
    with engine.connect() as conn:
        found = {r.slug: r for r in conn.execute(select(editions))}
    progress = _progress(engine) if found else {}
    reviews = states_of(settings, engine)
    states: list[IssueState] = []
    for summary in list_issues(settings):
        row = found.get(summary.slug)
        review = reviews.get(summary.slug)
        if row is None and review is not None and review.label != "draft":
            state, detail = review.short_label, ""
        elif row is None:
            state, detail = _draft_state(settings, summary)
        elif row.status == "scheduled" and _held(settings, review):
            state = "held"
            detail = f"({_why_held(review)})"
        elif row.status == "scheduled" and row.send_at is not None:
            state, detail = "scheduled", _local(row.send_at, tz)
        elif row.status in ("sending", "paused"):
            done, total = progress.get(row.id, (0, 0))
            state, detail = row.status, f"{100 * done // total if total else 0}%"
        elif row.status == "sent":
            when = row.finished_at
            state, detail = "sent", _local(when, tz) if when is not None else ""
        else:  # frozen, missed, cancelled
            state, detail = row.status, ""
        states.append(IssueState(summary, state, detail, review))
    return states
