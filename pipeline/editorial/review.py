"""Editorial review in the database: submit, approve, reject, and the check before sending.

    state_of(settings, engine, slug)                     -> ReviewState
    submit(settings, engine, slug, by, *, clock)         -> ReviewState   draft -> in_review
    approve(settings, engine, slug, by, *, clock)        -> ReviewState   in_review -> approved
    reject(settings, engine, slug, by, reason, *, clock) -> ReviewState   -> draft
    check_approved(settings, engine, slug, *, clock, frozen=False)   raises NotApproved
    mark_scheduled / mark_unscheduled                    called by scheduling and sending

``ReviewState``, ``states_of`` (every issue's, for ``issue list``) and ``refusal`` (why an
issue may not be sent, reading only) live in ``states``, which imports no SQLAlchemy.

An approval is for the issue folder's files as they were (``hashing.source_hash``): when
they change afterwards the approval is void, and the issue is a draft again ("changed since
approval") until it is submitted and approved again. ``state_of`` reports that at once;
``check_approved`` and ``submit`` also record it in the log (action ``voided``).

Every change of state is one ``UPDATE ... WHERE state IN (...)``, so of two people acting
on the same issue at once exactly one wins and the other is told it changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.clock import Clock
from pipeline.config import Settings
from pipeline.editorial.hashing import source_hash
from pipeline.editorial.states import (
    ReviewEvent,
    ReviewState,
    current_hash,
    local_day,
    refusal,
    review_event,
    review_state,
    void_message,
)
from pipeline.errors import ApprovalError
from pipeline.store.tables import issue_review_log, issue_reviews

#: Who the log names when the pipeline itself acts (a void, a schedule).
SYSTEM = "newsletter"
MAX_NAME = 100


# ---- reading ---------------------------------------------------------------------------
def _events(conn: Connection, slug: str) -> list[ReviewEvent]:
    query = (
        select(issue_review_log)
        .where(issue_review_log.c.slug == slug)
        .order_by(issue_review_log.c.id)
    )
    return [review_event(dict(row._mapping)) for row in conn.execute(query)]


def state_of(settings: Settings, engine: Engine, slug: str) -> ReviewState:
    """Where ``slug`` stands in review (a draft when it was never submitted). Raises
    ContentError when there is neither an issue folder nor a review of that name."""
    current = current_hash(settings, slug)
    with engine.connect() as conn:
        row = conn.execute(select(issue_reviews).where(issue_reviews.c.slug == slug)).first()
        events = _events(conn, slug)
    if row is None and current is None:
        source_hash(settings, slug)  # raises the "not found" error
    return review_state(dict(row._mapping) if row is not None else None, events, current, slug)


# ---- changing --------------------------------------------------------------------------
def _person(by: str) -> str:
    name = " ".join(by.split())
    if not name:
        raise ApprovalError("a review step needs the name of who takes it", fix="pass --by NAME")
    if len(name) > MAX_NAME:
        raise ApprovalError(
            f"the name '{name[:20]}...' is longer than {MAX_NAME} characters",
            fix="use a shorter name",
        )
    return name


def _same_person(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.casefold() == b.casefold()


def _log(
    conn: Connection,
    slug: str,
    action: str,
    by: str,
    at: datetime,
    *,
    reason: str | None = None,
    content_hash: str | None = None,
) -> None:
    conn.execute(
        insert(issue_review_log).values(
            slug=slug, action=action, by=by, at=at, reason=reason, content_hash=content_hash
        )
    )


def _move(
    engine: Engine,
    slug: str,
    from_states: tuple[str, ...],
    to_state: str,
    event: ReviewEvent,
    **values: Any,
) -> bool:
    """Change the state (and ``values``) if it is one of ``from_states``, and log ``event``,
    in one transaction. False when the issue was elsewhere (someone acted a moment ago)."""
    with engine.begin() as conn:
        result = conn.execute(
            update(issue_reviews)
            .where(issue_reviews.c.slug == slug, issue_reviews.c.state.in_(from_states))
            .values(state=to_state, updated_at=event.at, **values)
        )
        if result.rowcount != 1:
            return False
        _log(
            conn,
            slug,
            event.action,
            event.by,
            event.at,
            reason=event.reason,
            content_hash=event.content_hash,
        )
    return True


def _moved_meanwhile(slug: str) -> ApprovalError:
    return ApprovalError(
        f"{slug} changed state a moment ago (someone else acted on it)",
        fix=f"see 'newsletter issue review {slug}' and try again",
    )


def _void(settings: Settings, engine: Engine, state: ReviewState, clock: Clock) -> None:
    """Record that the approval of a changed issue is void (the state becomes draft; who
    approved it and when stay, for the messages); nothing when that is recorded already."""
    reason = (
        f"the files changed since {state.approved_by} approved it on "
        f"{local_day(state.approved_at, settings)}"
    )
    event = ReviewEvent("voided", SYSTEM, clock.now(), reason, state.current_hash)
    _move(engine, state.slug, ("approved", "scheduled"), "draft", event)


def submit(settings: Settings, engine: Engine, slug: str, by: str, *, clock: Clock) -> ReviewState:
    """Put a draft (or a rejected or changed issue) up for review."""
    from pipeline.content.issues import load_issue

    name = _person(by)
    load_issue(settings, slug)  # an issue that does not load is not worth reviewing
    state = state_of(settings, engine, slug)
    if state.state == "in_review":
        raise ApprovalError(
            f"{slug} is already in review (submitted by {state.submitted_by} on "
            f"{local_day(state.submitted_at, settings)})",
            fix=f"an approver runs 'newsletter issue approve {slug} --by NAME' or "
            f"'newsletter issue reject {slug} --by NAME --reason ...'",
        )
    if state.state == "approved":
        raise ApprovalError(
            f"{slug} is already approved (by {state.approved_by} on "
            f"{local_day(state.approved_at, settings)})",
            fix=f"schedule it: 'newsletter issue schedule {slug} --at ...'",
        )
    if state.state == "scheduled":
        raise ApprovalError(
            f"{slug} is approved and scheduled",
            fix=f"to change it, unschedule it first: 'newsletter issue unschedule {slug}'",
        )
    now = clock.now()
    if state.changed_since_approval:
        _void(settings, engine, state, clock)  # recorded once (a no-op when it was)
    values = {
        "submitted_by": name,
        "submitted_at": now,
        "approved_by": None,
        "approved_at": None,
        "approved_hash": None,
    }
    event = ReviewEvent("submitted", name, now, None, state.current_hash)
    inserted = False
    try:
        with engine.begin() as conn:
            found = conn.execute(
                select(issue_reviews.c.slug).where(issue_reviews.c.slug == slug)
            ).first()
            if found is None:  # the first submission of this issue
                conn.execute(
                    insert(issue_reviews).values(
                        slug=slug, state="in_review", updated_at=now, **values
                    )
                )
                _log(conn, slug, "submitted", name, now, content_hash=state.current_hash)
                inserted = True
    except IntegrityError:  # submitted by someone else a moment ago
        raise _moved_meanwhile(slug) from None
    if not inserted and not _move(engine, slug, ("draft",), "in_review", event, **values):
        raise _moved_meanwhile(slug)
    return state_of(settings, engine, slug)


def approve(settings: Settings, engine: Engine, slug: str, by: str, *, clock: Clock) -> ReviewState:
    """Approve an issue in review, for its files as they are now. The person who submitted
    it may not, unless ``[editorial] allow_self_approval`` is true."""
    name = _person(by)
    state = state_of(settings, engine, slug)
    if state.state != "in_review":
        raise _not_in_review(settings, state, "approved")
    if _same_person(name, state.submitted_by) and not settings.editorial.allow_self_approval:
        raise ApprovalError(
            f"{name} submitted {slug} and cannot approve it too: another person must "
            "([editorial] allow_self_approval = false)",
            fix=f"ask another editor to run 'newsletter issue approve {slug} --by THEIR-NAME'",
        )
    now = clock.now()
    event = ReviewEvent("approved", name, now, None, state.current_hash)
    values = {"approved_by": name, "approved_at": now, "approved_hash": state.current_hash}
    if not _move(engine, slug, ("in_review",), "approved", event, **values):
        raise _moved_meanwhile(slug)
    return state_of(settings, engine, slug)


def reject(
    settings: Settings, engine: Engine, slug: str, by: str, reason: str, *, clock: Clock
) -> ReviewState:
    """Send an issue in review (or approved, not yet scheduled) back to draft, saying why."""
    name = _person(by)
    why = reason.strip()
    if not why:
        raise ApprovalError(
            "a rejection needs a reason the editor can act on",
            fix="add --reason 'what to change'",
        )
    state = state_of(settings, engine, slug)
    if state.state == "scheduled":
        raise ApprovalError(
            f"{slug} is scheduled and cannot be rejected",
            fix=f"unschedule it first: 'newsletter issue unschedule {slug}'",
        )
    if state.state not in ("in_review", "approved"):
        raise _not_in_review(settings, state, "rejected")
    event = ReviewEvent("rejected", name, clock.now(), why, state.current_hash)
    values = {"approved_by": None, "approved_at": None, "approved_hash": None}
    if not _move(engine, slug, ("in_review", "approved"), "draft", event, **values):
        raise _moved_meanwhile(slug)
    return state_of(settings, engine, slug)


def _not_in_review(settings: Settings, state: ReviewState, verb: str) -> ApprovalError:
    slug = state.slug
    submit_fix = f"submit it for review first: 'newsletter issue submit {slug} --by NAME'"
    if state.state in ("approved", "scheduled"):
        return ApprovalError(
            f"{slug} is already {state.state} (approved by {state.approved_by} on "
            f"{local_day(state.approved_at, settings)})",
            fix="nothing to do"
            if state.state == "scheduled"
            else f"schedule it: 'newsletter issue schedule {slug} --at ...'",
        )
    if state.changed_since_approval:
        return ApprovalError(
            f"{void_message(settings, state)}, so it cannot be {verb} until it is submitted "
            "for review again",
            fix=submit_fix,
        )
    return ApprovalError(
        f"{slug} is a draft: it must be submitted for review before it can be {verb}",
        fix=submit_fix,
    )


# ---- the gate before scheduling and sending --------------------------------------------
def check_approved(
    settings: Settings, engine: Engine, slug: str, *, clock: Clock, frozen: bool = False
) -> ReviewState | None:
    """Raise NotApproved unless ``slug`` may be scheduled or sent; None (no check) when
    ``[editorial] require_approval`` is false.

    Before freezing (schedule, reschedule, ``issue send``) the issue must be approved (or
    scheduled) for its files as they are now. ``frozen=True`` (``send-due``, about to send
    an edition frozen earlier) also wants the approval the edition was frozen with: an
    issue approved again after a change must be rescheduled, or the old files would go out.
    A change since approval is recorded as a void before the error is raised."""
    if not settings.editorial.require_approval:
        return None
    state = state_of(settings, engine, slug)
    problem = refusal(settings, state, frozen=frozen)
    if problem is None:
        return state
    if state.changed_since_approval:
        _void(settings, engine, state, clock)  # recorded once (a no-op when it was)
    raise problem


def mark_scheduled(engine: Engine, slug: str, *, clock: Clock, by: str = SYSTEM) -> bool:
    """An approved issue was frozen to be sent (scheduled, or sent now). True if recorded;
    False when the issue is not approved (never submitted, with approval not required)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(issue_reviews.c.approved_hash).where(issue_reviews.c.slug == slug)
        ).first()
    if row is None:
        return False
    event = ReviewEvent("scheduled", by, clock.now(), None, row.approved_hash)
    return _move(engine, slug, ("approved",), "scheduled", event)


def mark_unscheduled(engine: Engine, slug: str, *, clock: Clock, by: str = SYSTEM) -> bool:
    """A scheduled issue was taken off the schedule: approved again (not sent)."""
    event = ReviewEvent("unscheduled", by, clock.now())
    return _move(engine, slug, ("scheduled",), "approved", event)
