"""The review state machine: submit, approve, reject, illegal steps, changes after approval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.editorial.hashing import source_hash
from pipeline.editorial.review import (
    approve,
    check_approved,
    mark_scheduled,
    mark_unscheduled,
    reject,
    state_of,
    submit,
)
from pipeline.editorial.states import states_of
from pipeline.errors import ApprovalError, ContentError, NotApproved
from pipeline.store.tables import issue_review_log, issue_reviews
from tests.schedule.conftest import SLUG


def edit(settings: Settings, slug: str = SLUG) -> None:
    path = settings.issues_dir / slug / "issue.md"
    path.write_text(path.read_text() + "\nOne more line.\n")


def test_a_new_issue_is_a_draft(settings: Settings, engine: Engine) -> None:
    state = state_of(settings, engine, SLUG)
    assert (state.state, state.label, state.log) == ("draft", "draft", ())
    assert state.current_hash == source_hash(settings, SLUG)
    assert states_of(settings, engine) == {}


def test_submit_approve_schedule_unschedule(
    settings: Settings, engine: Engine, clock: FixedClock
) -> None:
    state = submit(settings, engine, SLUG, "Ada", clock=clock)
    assert (state.state, state.label, state.submitted_by) == ("in_review", "in review", "Ada")
    clock.advance(timedelta(hours=1))
    state = approve(settings, engine, SLUG, "Grace", clock=clock)
    assert (state.state, state.approved_by, state.approved_at) == (
        "approved",
        "Grace",
        clock.now(),
    )
    assert state.approved_hash == source_hash(settings, SLUG)
    assert mark_scheduled(engine, SLUG, clock=clock)
    assert state_of(settings, engine, SLUG).state == "scheduled"
    assert mark_unscheduled(engine, SLUG, clock=clock)
    state = state_of(settings, engine, SLUG)
    assert state.state == "approved"
    assert [(e.action, e.by) for e in state.log] == [
        ("submitted", "Ada"),
        ("approved", "Grace"),
        ("scheduled", "newsletter"),
        ("unscheduled", "newsletter"),
    ]
    assert state.log[1].content_hash == state.approved_hash
    assert states_of(settings, engine)[SLUG] == state


def test_the_submitter_cannot_approve_by_default(
    settings: Settings, engine: Engine, clock: FixedClock, make_settings: object
) -> None:
    submit(settings, engine, SLUG, "Ada", clock=clock)
    with pytest.raises(ApprovalError) as caught:
        approve(settings, engine, SLUG, " ada ", clock=clock)
    assert str(caught.value) == (
        "ada submitted 2026-12-01-microneedling and cannot approve it too: another person "
        "must ([editorial] allow_self_approval = false) (ask another editor to run "
        "'newsletter issue approve 2026-12-01-microneedling --by THEIR-NAME')"
    )
    assert state_of(settings, engine, SLUG).state == "in_review"


def test_self_approval_when_allowed(
    make_settings: object, db_url: str, engine: Engine, clock: FixedClock
) -> None:
    from collections.abc import Callable

    make: Callable[..., Settings] = make_settings  # type: ignore[assignment]
    settings = make(**{"database.url": db_url, "editorial.allow_self_approval": True})
    submit(settings, engine, SLUG, "Ada", clock=clock)
    assert approve(settings, engine, SLUG, "Ada", clock=clock).approved_by == "Ada"


def test_reject_needs_a_reason_and_returns_to_draft(
    settings: Settings, engine: Engine, clock: FixedClock
) -> None:
    submit(settings, engine, SLUG, "Ada", clock=clock)
    with pytest.raises(ApprovalError) as caught:
        reject(settings, engine, SLUG, "Grace", "  ", clock=clock)
    assert str(caught.value) == (
        "a rejection needs a reason the editor can act on (add --reason 'what to change')"
    )
    state = reject(settings, engine, SLUG, "Grace", "The intro is too long.", clock=clock)
    assert (state.state, state.label) == ("draft", "rejected")
    assert state.rejection is not None
    assert (state.rejection.by, state.rejection.reason) == ("Grace", "The intro is too long.")
    # submitted again after the edit: in review, no longer "rejected"
    edit(settings)
    assert submit(settings, engine, SLUG, "Ada", clock=clock).label == "in review"


def test_an_approved_issue_can_be_rejected_before_it_is_scheduled(
    settings: Settings, engine: Engine, clock: FixedClock
) -> None:
    submit(settings, engine, SLUG, "Ada", clock=clock)
    approve(settings, engine, SLUG, "Grace", clock=clock)
    state = reject(settings, engine, SLUG, "Grace", "A fact to check.", clock=clock)
    assert (state.state, state.approved_by, state.approved_hash) == ("draft", None, None)
    with engine.connect() as conn:
        row = conn.execute(select(issue_reviews)).one()
    assert (row.state, row.approved_by) == ("draft", None)


@pytest.mark.parametrize(
    ("steps", "step", "message"),
    [
        (
            [],
            "approve",
            "2026-12-01-microneedling is a draft: it must be submitted for review before it "
            "can be approved (submit it for review first: 'newsletter issue submit "
            "2026-12-01-microneedling --by NAME')",
        ),
        (
            [],
            "reject",
            "2026-12-01-microneedling is a draft: it must be submitted for review before it "
            "can be rejected (submit it for review first: 'newsletter issue submit "
            "2026-12-01-microneedling --by NAME')",
        ),
        (
            ["submit"],
            "submit",
            "2026-12-01-microneedling is already in review (submitted by Ada on 2026-11-20 "
            "10:00 GMT) (an approver runs 'newsletter issue approve 2026-12-01-microneedling "
            "--by NAME' or 'newsletter issue reject 2026-12-01-microneedling --by NAME "
            "--reason ...')",
        ),
        (
            ["submit", "approve"],
            "approve",
            "2026-12-01-microneedling is already approved (approved by Grace on 2026-11-20 "
            "10:00 GMT) (schedule it: 'newsletter issue schedule 2026-12-01-microneedling "
            "--at ...')",
        ),
        (
            ["submit", "approve"],
            "submit",
            "2026-12-01-microneedling is already approved (by Grace on 2026-11-20 10:00 GMT) "
            "(schedule it: 'newsletter issue schedule 2026-12-01-microneedling --at ...')",
        ),
        (
            ["submit", "approve", "schedule"],
            "reject",
            "2026-12-01-microneedling is scheduled and cannot be rejected (unschedule it "
            "first: 'newsletter issue unschedule 2026-12-01-microneedling')",
        ),
        (
            ["submit", "approve", "schedule"],
            "submit",
            "2026-12-01-microneedling is approved and scheduled (to change it, unschedule it "
            "first: 'newsletter issue unschedule 2026-12-01-microneedling')",
        ),
    ],
)
def test_illegal_steps_are_refused_and_change_nothing(
    settings: Settings,
    engine: Engine,
    clock: FixedClock,
    steps: list[str],
    step: str,
    message: str,
) -> None:
    def act(name: str) -> object:
        if name == "submit":
            return submit(settings, engine, SLUG, "Ada", clock=clock)
        if name == "approve":
            return approve(settings, engine, SLUG, "Grace", clock=clock)
        if name == "reject":
            return reject(settings, engine, SLUG, "Grace", "no", clock=clock)
        return mark_scheduled(engine, SLUG, clock=clock)

    for done in steps:
        act(done)
    before = state_of(settings, engine, SLUG)
    with pytest.raises(ApprovalError) as caught:
        act(step)
    assert str(caught.value) == message
    assert state_of(settings, engine, SLUG) == before


def test_names_are_required_and_an_unknown_issue_is_refused(
    settings: Settings, engine: Engine, clock: FixedClock
) -> None:
    with pytest.raises(ApprovalError, match="needs the name of who takes it"):
        submit(settings, engine, SLUG, "   ", clock=clock)
    with pytest.raises(ContentError, match="issue 'no-such-issue' not found"):
        submit(settings, engine, "no-such-issue", "Ada", clock=clock)
    with pytest.raises(ContentError, match="issue 'no-such-issue' not found"):
        state_of(settings, engine, "no-such-issue")


def test_a_change_after_approval_voids_it(
    settings: Settings, engine: Engine, clock: FixedClock, make_settings: object
) -> None:
    submit(settings, engine, SLUG, "Ada", clock=clock)
    approve(settings, engine, SLUG, "Grace", clock=clock)
    image = settings.issues_dir / SLUG / "images" / "new.png"
    image.parent.mkdir(exist_ok=True)
    image.write_bytes(b"\x89PNG not really")
    state = state_of(settings, engine, SLUG)
    assert (state.state, state.label, state.changed_since_approval) == (
        "draft",
        "changed since approval",
        True,
    )
    # not recorded by reading; approving the changed issue is refused
    with pytest.raises(ApprovalError) as caught:
        approve(settings, engine, SLUG, "Grace", clock=clock)
    assert str(caught.value) == (
        "2026-12-01-microneedling changed since Grace approved it on 2026-11-20 10:00 GMT, "
        "so it cannot be approved until it is submitted for review again (submit it for "
        "review first: 'newsletter issue submit 2026-12-01-microneedling --by NAME')"
    )
    # submitting again records the void, then the submission
    state = submit(settings, engine, SLUG, "Ada", clock=clock)
    assert [e.action for e in state.log] == ["submitted", "approved", "voided", "submitted"]
    assert state.log[2].reason == (
        "the files changed since Grace approved it on 2026-11-20 10:00 GMT"
    )
    assert approve(settings, engine, SLUG, "Grace", clock=clock).state == "approved"


def test_hidden_files_and_backups_do_not_count(settings: Settings) -> None:
    before = source_hash(settings, SLUG)
    folder = settings.issues_dir / SLUG
    (folder / ".issue.md.swp").write_bytes(b"editor state")
    (folder / "issue.md~").write_text("backup")
    assert source_hash(settings, SLUG) == before
    (folder / "articles" / "02-more.md").write_text("---\ntitle: More\n---\nText.\n")
    assert source_hash(settings, SLUG) != before


def test_check_approved_is_off_unless_required(
    settings: Settings, engine: Engine, clock: FixedClock
) -> None:
    assert check_approved(settings, engine, SLUG, clock=clock) is None


def test_check_approved_names_the_command_to_run(
    strict: object, engine: Engine, clock: FixedClock
) -> None:
    from collections.abc import Callable

    make: Callable[..., Settings] = strict  # type: ignore[assignment]
    settings = make()
    with pytest.raises(NotApproved) as caught:
        check_approved(settings, engine, SLUG, clock=clock)
    assert str(caught.value) == (
        "2026-12-01-microneedling is not approved ([editorial] require_approval = true) "
        "(submit it for review: 'newsletter issue submit 2026-12-01-microneedling --by "
        "NAME', then another person approves it: 'newsletter issue approve "
        "2026-12-01-microneedling --by NAME')"
    )
    submit(settings, engine, SLUG, "Ada", clock=clock)
    with pytest.raises(NotApproved, match="is in review and not approved yet"):
        check_approved(settings, engine, SLUG, clock=clock)
    reject(settings, engine, SLUG, "Grace", "Too long.", clock=clock)
    with pytest.raises(NotApproved) as caught:
        check_approved(settings, engine, SLUG, clock=clock)
    assert str(caught.value) == (
        "2026-12-01-microneedling was rejected by Grace on 2026-11-20 10:00 GMT: Too long. "
        "(edit it, then 'newsletter issue submit 2026-12-01-microneedling --by NAME')"
    )
    submit(settings, engine, SLUG, "Ada", clock=clock)
    approve(settings, engine, SLUG, "Grace", clock=clock)
    assert check_approved(settings, engine, SLUG, clock=clock) is not None
    # an approved issue not frozen since: send-due would send an older edition
    with pytest.raises(NotApproved, match="approved again after its edition was frozen"):
        check_approved(settings, engine, SLUG, clock=clock, frozen=True)
    mark_scheduled(engine, SLUG, clock=clock)
    assert check_approved(settings, engine, SLUG, clock=clock, frozen=True) is not None

    edit(settings)
    clock.advance(timedelta(days=1))
    with pytest.raises(NotApproved) as caught:
        check_approved(settings, engine, SLUG, clock=clock, frozen=True)
    assert str(caught.value) == (
        "2026-12-01-microneedling changed since Grace approved it on 2026-11-20 10:00 GMT: "
        "the approval is void ([editorial] require_approval = true) (submit it for review: "
        "'newsletter issue submit 2026-12-01-microneedling --by NAME', then another person "
        "approves it: 'newsletter issue approve 2026-12-01-microneedling --by NAME')"
    )
    # recorded: the state is draft in the database too, and the log says why
    with engine.connect() as conn:
        assert conn.execute(select(issue_reviews.c.state)).scalar_one() == "draft"
        last = conn.execute(select(issue_review_log).order_by(issue_review_log.c.id.desc())).first()
    assert last is not None
    assert (last.action, last.by, last.at) == ("voided", "newsletter", clock.now())
    state = state_of(settings, engine, SLUG)
    assert (state.state, state.label) == ("draft", "changed since approval")
    with pytest.raises(NotApproved) as caught:
        check_approved(settings, engine, SLUG, clock=clock)
    assert str(caught.value).startswith(
        "2026-12-01-microneedling changed since Grace approved it on 2026-11-20 10:00 GMT: "
        "the approval is void"
    )
    assert [e.action for e in state_of(settings, engine, SLUG).log].count("voided") == 1


def test_of_two_people_acting_at_once_one_wins(
    settings: Settings, engine: Engine, clock: FixedClock
) -> None:
    """Each step is one UPDATE ... WHERE state IN (...): the second of two approvals (or an
    approval and a rejection) made on the same state finds it changed and changes nothing."""
    from pipeline.editorial.review import _move
    from pipeline.editorial.states import ReviewEvent

    submit(settings, engine, SLUG, "Ada", clock=clock)
    first = ReviewEvent("approved", "Grace", clock.now())
    second = ReviewEvent("rejected", "Linus", clock.now(), "too late")
    approval = {"approved_by": "Grace", "approved_hash": source_hash(settings, SLUG)}
    assert _move(engine, SLUG, ("in_review",), "approved", first, **approval)
    assert not _move(engine, SLUG, ("in_review",), "draft", second)
    state = state_of(settings, engine, SLUG)
    assert (state.state, state.approved_by) == ("approved", "Grace")
    assert [e.action for e in state.log] == ["submitted", "approved"]
