"""Commands of editorial review (the rules are in ``pipeline.editorial.review``).

newsletter issue submit SLUG --by NAME
newsletter issue approve SLUG --by NAME
newsletter issue reject SLUG --by NAME --reason TEXT
newsletter issue review SLUG [--json]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    console,
    get_clock,
    get_engine,
    get_settings,
    issue_app,
    print_json,
)

if TYPE_CHECKING:
    from pipeline.editorial.states import ReviewState

SLUG_ARG = typer.Argument(..., help="The issue's folder name under issues/.")
BY_OPTION = typer.Option(..., "--by", help="Who takes this step (recorded in the review log).")


def _when(value: object) -> str:
    from datetime import datetime

    if not isinstance(value, datetime):
        return "-"
    return value.astimezone(get_settings().newsletter.tz).strftime("%Y-%m-%d %H:%M %Z")


def _done(state: ReviewState, as_json: bool, text: str) -> None:
    if as_json:
        print_json(state.as_dict())
    else:
        console.print(text, markup=False, soft_wrap=True)


@issue_app.command("submit", short_help="Submit the issue for review by another person.")
def submit_cmd(slug: str = SLUG_ARG, by: str = BY_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Submit the issue for review: another person approves or rejects it."""
    from pipeline.editorial.review import submit

    state = submit(get_settings(), get_engine(), slug, by, clock=get_clock())
    _done(
        state,
        as_json,
        f"{slug} is in review (submitted by {state.submitted_by}). An approver runs "
        f"'newsletter issue approve {slug} --by NAME' or "
        f"'newsletter issue reject {slug} --by NAME --reason ...'.",
    )


@issue_app.command("approve", short_help="Approve an issue in review, as its files are now.")
def approve_cmd(slug: str = SLUG_ARG, by: str = BY_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Approve an issue in review, as its files are now (a later change voids it)."""
    from pipeline.editorial.review import approve

    state = approve(get_settings(), get_engine(), slug, by, clock=get_clock())
    _done(
        state,
        as_json,
        f"{slug} is approved by {state.approved_by} ({_when(state.approved_at)}). "
        f"Schedule it with 'newsletter issue schedule {slug} --at ...'; any change to its "
        "files voids the approval.",
    )


@issue_app.command("reject", short_help="Send an issue in review back to its editor, saying why.")
def reject_cmd(
    slug: str = SLUG_ARG,
    by: str = BY_OPTION,
    reason: str = typer.Option(..., "--reason", help="What the editor should change."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Send an issue in review (or approved, not scheduled) back to its editor, saying why."""
    from pipeline.editorial.review import reject

    state = reject(get_settings(), get_engine(), slug, by, reason, clock=get_clock())
    _done(
        state,
        as_json,
        f"{slug} is back to draft (rejected by {by.strip()}: {reason.strip()}). Once it is "
        f"edited: 'newsletter issue submit {slug} --by NAME'.",
    )


@issue_app.command("review", short_help="Show where the issue stands in review, and who did what.")
def review_cmd(slug: str = SLUG_ARG, as_json: bool = JSON_OPTION) -> None:
    """Show where the issue stands in review, and who did what when."""
    from pipeline.cli.tables import Column, fit_table
    from pipeline.editorial.review import state_of

    settings = get_settings()
    state = state_of(settings, get_engine(), slug)
    if as_json:
        print_json(state.as_dict())
        return
    console.print(f"{slug}: {state.label}", markup=False, soft_wrap=True)
    if state.approved_by and state.state in ("approved", "scheduled"):
        console.print(
            f"Approved by {state.approved_by} ({_when(state.approved_at)}).",
            markup=False,
            soft_wrap=True,
        )
    required = "required" if settings.editorial.require_approval else "not required"
    console.print(
        f"Approval before scheduling or sending: {required} ([editorial] require_approval).",
        markup=False,
        soft_wrap=True,
    )
    if not state.log:
        console.print(
            f"Never submitted. Submit it with 'newsletter issue submit {slug} --by NAME'.",
            markup=False,
            soft_wrap=True,
        )
        return
    columns = [Column("when"), Column("action"), Column("by"), Column("reason", flexible=True)]
    rows = [[_when(e.at), e.action, e.by, e.reason or ""] for e in state.log]
    console.print(fit_table(columns, rows, title="Review log"))
