"""Where each issue stands, for `newsletter issue list`: draft, check errors, in review,
approved, rejected, changed since approval, frozen, scheduled for when, held (scheduled but
no longer approved), sending with %, paused with %, sent when, missed, cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.content.issues import list_issues
from pipeline.content.models import IssueSummary
from pipeline.editorial.states import ReviewState, refusal, states_of
from pipeline.errors import NewsletterError
from pipeline.render.checkcache import draft_errors
from pipeline.store.reader import Reader, as_reader, utc

if TYPE_CHECKING:
    from sqlalchemy import Engine

DONE = ("sent", "failed", "skipped", "cancelled")

# Plain SQL through a Reader (pipeline.store.reader): `issue list` imports no SQLAlchemy.
_EDITIONS = "SELECT id, slug, status, send_at, finished_at FROM editions"
_DONE_LIST = ", ".join(f"'{status}'" for status in DONE)
_PROGRESS = (
    "SELECT edition_id,"
    f" SUM(CASE WHEN status IN ({_DONE_LIST}) THEN 1 ELSE 0 END) AS done,"
    " COUNT(*) AS total"
    " FROM deliveries GROUP BY edition_id"
)


@dataclass(frozen=True)
class IssueState:
    summary: IssueSummary
    state: str  # draft, check errors, frozen, scheduled, sending, paused, sent, missed, ...
    detail: str  # "2026-12-01 09:00", "45%", "3 errors", ...
    review: ReviewState | None = None  # None: never submitted for review

    @property
    def label(self) -> str:
        return f"{self.state} {self.detail}".strip()


def _progress(reader: Reader) -> dict[int, tuple[int, int]]:
    """Per edition id: (rows done, rows in all) of the ledger."""
    return {
        row["edition_id"]: (int(row["done"] or 0), int(row["total"]))
        for row in reader.rows(_PROGRESS)
    }


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


def issue_states(settings: Settings, db: Engine | Reader) -> list[IssueState]:
    """Every issue folder, newest first, with its state (drafts are checked; the count
    is remembered until a file or setting changes: pipeline.render.checkcache). ``db``:
    the web's engine, or the CLI's reader (``store.reader.open_reader``)."""
    tz = settings.newsletter.tz
    reader = as_reader(db)
    found = {r["slug"]: r for r in reader.rows(_EDITIONS)}
    progress = _progress(reader) if found else {}
    reviews = states_of(settings, reader)
    states: list[IssueState] = []
    for summary in list_issues(settings):
        row = found.get(summary.slug)
        review = reviews.get(summary.slug)
        if row is None and review is not None and review.label != "draft":
            state, detail = review.short_label, ""
        elif row is None:
            state, detail = _draft_state(settings, summary)
        elif row["status"] == "scheduled" and _held(settings, review):
            state = "held"
            detail = f"({_why_held(review)})"
        elif row["status"] == "scheduled" and row["send_at"] is not None:
            state, detail = "scheduled", _local(utc(row["send_at"]), tz)
        elif row["status"] in ("sending", "paused"):
            done, total = progress.get(row["id"], (0, 0))
            state, detail = row["status"], f"{100 * done // total if total else 0}%"
        elif row["status"] == "sent":
            when = row["finished_at"]
            state, detail = "sent", _local(utc(when), tz) if when is not None else ""
        else:  # frozen, missed, cancelled
            state, detail = row["status"], ""
        states.append(IssueState(summary, state, detail, review))
    return states
