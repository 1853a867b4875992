"""Commands of the sending stage.

newsletter issue send SLUG [--dry-run] [--test-to ADDRESS ...] [--yes]
newsletter issue status SLUG [--json]
newsletter issue resume SLUG
newsletter issue cancel SLUG
newsletter issue retry-failed SLUG [--uncertain]
newsletter issue report SLUG [--csv [PATH]]
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    before_long_work,
    console,
    err_console,
    get_clock,
    get_engine,
    get_settings,
    issue_app,
    open_output,
    print_json,
)
from pipeline.clock import Clock
from pipeline.errors import CheckFailed, SendError

if TYPE_CHECKING:
    from rich.progress import ProgressColumn
    from sqlalchemy import Engine

    from pipeline.config import Settings
    from pipeline.sending.abtest import ABState
    from pipeline.sending.editions import Edition
    from pipeline.sending.engine import SendReport
    from pipeline.sending.report import ZoneProgress


WORKERS_OPTION = typer.Option(
    None,
    "--workers",
    "-w",
    min=1,
    metavar="<int>",
    help="Worker processes sending at once (default: sending.workers, or one for SMTP "
    "and one per CPU for large SendGrid or Maildir sends).",
)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def send_bar_columns() -> tuple[ProgressColumn, ...]:
    """The columns of the sending bar: bar, sent/total, %, rate and ETA, in 80 columns.

    The label (with the slug, as long as it is) goes on the line above, not in the bar:
    the figures must never be squeezed out by it."""
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

    return (
        BarColumn(bar_width=None),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[rate]} msg/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )


@contextmanager
def _progress(count: Callable[[], int], label: str) -> Iterator[Callable[[SendReport], None]]:
    """A progress bar with rate and ETA on a terminal (``count()`` messages); silent
    otherwise (nothing is counted)."""
    total = count() if console.is_terminal else 0
    if total == 0:
        yield lambda report: None
        return
    from rich.progress import Progress

    console.print(f"{label}: {total:,} message(s)", markup=False, soft_wrap=True)
    with Progress(*send_bar_columns(), console=console, expand=True) as bar:
        task = bar.add_task(label, total=total, rate="-")

        def update(report: SendReport) -> None:
            done = report.sent + report.failed + report.uncertain + report.skipped
            rate = f"{report.sent / report.elapsed:,.0f}" if report.elapsed > 0 else "-"
            bar.update(task, completed=done, rate=rate)

        yield update


def _check_failed(exc: CheckFailed) -> None:
    for finding in exc.findings:
        err_console.print(f"  {finding}", markup=False, soft_wrap=True)


def _summary(settings: Settings, engine: Engine, edition: Edition, report: SendReport) -> None:
    from pipeline.sending import ledger
    from pipeline.sending.report import failure_reasons

    counts = ledger.count_by_status(engine, edition.id)
    mine = f"{report.sent} sent"
    if report.failed:
        mine += f", {report.failed} failed"
    if report.uncertain:
        mine += f", {report.uncertain} uncertain"
    if report.skipped:
        mine += f", {report.skipped} skipped (unsubscribed after the send started)"
    if report.retried:
        mine += f", {report.retried} retried"
    console.print(f"{edition.slug}: {mine} via {report.transport}.", markup=False, soft_wrap=True)
    uncertain = f", {counts['uncertain']} uncertain" if counts["uncertain"] else ""
    console.print(
        f"Ledger: {counts['sent']} sent, {counts['failed']} failed{uncertain},"
        f" {counts['skipped']} skipped, {counts['pending']} pending,"
        f" {counts['in_flight']} in flight of {sum(counts.values())};"
        f" edition is {report.status}.",
        markup=False,
        soft_wrap=True,
    )
    if report.waiting_for:
        from pipeline.scheduling.timeparse import format_local

        when = format_local(report.waiting_until, settings.newsletter.tz) or "later"
        what = {
            "ab-test": "The A/B test's sample is sent; the rest of the audience receives the "
            f"winning subject, chosen at {when}",
            "local-time": f"The next time zone falls due at {when}; the rest is sent",
        }[report.waiting_for]
        console.print(
            f"{what} by 'newsletter send-due' (run it from cron: 'newsletter cron-line').",
            markup=False,
            soft_wrap=True,
        )
    if report.in_flight_elsewhere:
        console.print(
            f"{report.in_flight_elsewhere} message(s) are held by another run. If that run "
            f"crashed, run 'newsletter issue resume {edition.slug}'.",
            markup=False,
            soft_wrap=True,
        )
    for status, what in (
        ("failed", "were not delivered"),
        ("uncertain", "went out but their answer never came (each got it once or not at all)"),
    ):
        if not counts[status]:
            continue
        console.print(f"{counts[status]} recipient(s) {what}:", markup=False, soft_wrap=True)
        for error, n in failure_reasons(engine, edition.id, status):
            console.print(f"  {n} x {error}", markup=False, soft_wrap=True)
    if counts["failed"] or counts["uncertain"]:
        again = " --uncertain" if counts["uncertain"] else ""
        console.print(
            f"See who and why: newsletter issue report {edition.slug} --csv; send to them"
            f" again: newsletter issue retry-failed {edition.slug}{again}",
            markup=False,
            soft_wrap=True,
        )
    if report.status == "paused":
        raise SendError(
            f"sending {edition.slug} paused: {report.pause_reason}",
            fix=f"fix the cause, then run 'newsletter issue resume {edition.slug}'",
        )


def _run(
    settings: Settings,
    engine: Engine,
    edition: Edition,
    clock: Clock,
    workers: int | None = None,
    left: int | None = None,
) -> None:
    """Send ``edition`` with a progress bar. ``left``: the recipients it has still to
    reach, when the caller has just counted them (``left_to_send``)."""
    from pipeline.sending.editions import get_edition
    from pipeline.sending.engine import send_edition
    from pipeline.sending.report import left_to_send
    from pipeline.sending.workers import choose_workers, send_with_workers

    @functools.cache
    def todo() -> int:
        """Counted only when needed (the choice of workers, a progress bar): before the
        snapshot, a count reads the whole audience."""
        return left if left is not None else left_to_send(engine, edition, clock.now())

    processes = choose_workers(settings, workers, todo)
    before_long_work()
    with _progress(todo, f"Sending {edition.slug}") as update:
        if processes > 1:
            report = send_with_workers(
                settings, edition.id, processes, clock=clock, progress=update
            )
        else:
            report = send_edition(settings, engine, edition.id, clock=clock, progress=update)
    _summary(settings, engine, get_edition(engine, edition.slug), report)


def _samples(settings: Settings, engine: Engine, slug: str) -> None:
    import email
    import email.policy

    from pipeline.content.issues import load_issue
    from pipeline.render.build import build_issue
    from pipeline.sending.audience import audience_refusal
    from pipeline.sending.mime import MessageSkeleton
    from pipeline.sending.recipient_values import recipient_values, web_url
    from pipeline.sending.report import audience_count
    from pipeline.sending.transports import get_transport
    from pipeline.subscribers.audience import segment_filter, stream_audience
    from pipeline.subscribers.segments import segment_condition

    issue = load_issue(settings, slug)  # the count first, before building
    lists, segment = list(issue.lists), issue.segment
    where = segment_filter(
        engine, segment_condition(settings, segment) if segment else None, get_clock().now()
    )
    count = audience_count(engine, lists, where)
    transport = get_transport(settings)
    within = f" in segment {segment}" if segment else ""
    console.print(
        f"Dry run: {slug} would go to {count} recipient(s) on {', '.join(lists)}{within} "
        f"via {transport.describe()}. Nothing is sent.",
        markup=False,
        soft_wrap=True,
    )
    if count == 0:
        err_console.print(
            f"Warning: {audience_refusal(engine, slug, lists, where, segment)}",
            markup=False,
            soft_wrap=True,
        )
    build = build_issue(settings, slug)
    if build.errors:
        raise CheckFailed(
            f"{slug}: {len(build.errors)} check error(s) block sending",
            list(build.errors),
            fix=f"run 'newsletter issue check {slug}' and fix them",
        )
    skeleton = MessageSkeleton(settings, build.compiled, slug=slug, lists=lists)
    web = web_url(settings, slug)
    shown = 0
    for batch in stream_audience(engine, lists, batch_size=3, where=where):
        for person in batch[:3]:
            values = recipient_values(
                settings,
                person.public_id,
                person.email,
                person.name,
                web=web,
                attributes=person.attributes,
            )
            data = skeleton.build(person.email, values["name"], values)
            msg = email.message_from_bytes(data, policy=email.policy.default)
            body = msg.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
            console.print(f"\n--- sample {shown + 1} ---", markup=False, soft_wrap=True)
            console.print(
                f"To: {msg['To']}\nSubject: {msg['Subject']}", markup=False, soft_wrap=True
            )
            console.print("\n".join(lines[:6]), markup=False, soft_wrap=True)
            shown += 1
        break


@issue_app.command("send", short_help="Send an issue now, once to everyone on its lists.")
def send_command(
    slug: str = typer.Argument(..., help="The issue folder name, e.g. 2026-12-01-microneedling."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the audience count and three samples; send nothing."
    ),
    test_to: list[str] | None = typer.Option(
        None,
        "--test-to",
        metavar="<address>",
        help="Send one copy to this address (repeat for several); the ledger is not touched.",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Send without asking for confirmation."),
    workers: int | None = WORKERS_OPTION,
) -> None:
    """Send an issue now: freeze it, snapshot the audience, and send to everyone once."""
    from pipeline.sending import ledger
    from pipeline.sending.editions import find_edition, freeze_for_sending
    from pipeline.sending.engine import send_edition
    from pipeline.sending.report import left_to_send

    settings, engine, clock = get_settings(), get_engine(), get_clock()
    existing = find_edition(engine, slug)
    held: dict[str, int] = ledger.count_by_status(engine, existing.id) if existing else {}
    if existing is not None and existing.status == "sent" and any(held.values()):
        sent = held["sent"]
        when = f" on {existing.finished_at:%Y-%m-%d %H:%M} UTC" if existing.finished_at else ""
        console.print(
            f"{slug} was already sent to {sent} recipient(s){when}; nothing to send.",
            markup=False,
            soft_wrap=True,
        )
        return
    try:
        if dry_run:
            _samples(settings, engine, slug)
            return
        if test_to:
            _test_copy(settings, slug, test_to)
            return
        edition = freeze_for_sending(settings, engine, slug, clock=clock)
    except CheckFailed as exc:
        _check_failed(exc)
        raise
    if edition.status in ("paused", "cancelled"):
        send_edition(settings, engine, edition.id, clock=clock)  # raises with the reason
    left = None
    if not yes:  # with --yes nothing is counted here (the snapshot counts)
        left = left_to_send(engine, edition, clock.now())
        what = f"{slug} ({edition.subject!r}) to {left} recipient(s)"
        if not sys.stdin.isatty():
            raise SendError(
                f"not sending {what} without confirmation",
                fix="pass --yes to send",
            )
        typer.confirm(f"Send {what} via {settings.sending.transport}?", abort=True)
    _run(settings, engine, edition, clock, workers, left)


def _test_copy(settings: Settings, slug: str, addresses: list[str]) -> None:
    from pipeline.sending.direct import send_test_copies

    for line in send_test_copies(settings, slug, addresses):
        console.print(line, markup=False, soft_wrap=True)


@issue_app.command("status")
def status_command(
    slug: str = typer.Argument(..., help="The issue (edition) slug."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Counts by state, the sending rate and the time left."""
    from rich.table import Table

    from pipeline.sending.abtest import ab_state
    from pipeline.sending.editions import get_edition
    from pipeline.sending.report import edition_status, zone_progress

    engine = get_engine()
    edition = get_edition(engine, slug)
    status = edition_status(engine, edition, clock=get_clock())
    ab = ab_state(engine, edition)
    zones = zone_progress(engine, edition.id)
    if as_json:
        data = status.to_dict()
        if ab is not None:
            data["ab_test"] = ab.as_dict()
        if edition.send_at_local:
            data["send_at_local"] = edition.send_at_local
            data["zones"] = [z.to_dict() for z in zones]
            last = max((z.due_at for z in zones if z.due_at), default=None)
            data["last_zone_due_at"] = last.isoformat() if last else None
        print_json(data)
        return
    title = f"{slug}: {status.status}"
    table = Table(title=title, title_justify="left", min_width=len(title))  # title on one line
    table.add_column("state")
    table.add_column("recipients", justify="right")
    for state, count in status.counts.items():
        table.add_row(state, f"{count:,}")
    table.add_row("total", f"{status.total:,}")
    console.print(table)
    rate = f"{status.rate:,.1f} msg/s" if status.rate else "-"
    console.print(
        f"Rate: {rate}   ETA: {_duration(status.eta_seconds)}", markup=False, soft_wrap=True
    )
    if status.pause_reason and status.status == "paused":
        console.print(f"Paused: {status.pause_reason}", markup=False, soft_wrap=True)
    if ab is not None:
        print_ab_test(ab)
    if edition.send_at_local:
        _print_zones(edition.send_at_local, zones)
    from pipeline.scheduling.plan import files_changed  # the schedule stage's check

    if edition.status in ("frozen", "scheduled", "missed") and files_changed(
        get_settings(), engine, slug
    ):
        again = "reschedule" if edition.status == "scheduled" else "schedule"
        console.print(
            f"The files of {slug} changed since it was frozen; the frozen edition is what "
            f"will be sent. 'newsletter issue {again} {slug}' freezes the edited files.",
            markup=False,
            soft_wrap=True,
        )
    settings = get_settings()
    if edition.status == "scheduled" and settings.editorial.require_approval:
        from pipeline.editorial.review import state_of
        from pipeline.editorial.states import refusal

        held = refusal(settings, state_of(settings, engine, slug), frozen=True)
        if held is not None:
            console.print(f"Held: send-due will not send it: {held}", markup=False, soft_wrap=True)


def print_ab_test(ab: ABState) -> None:
    """The A/B test's variants, figures and decision (``issue status``, ``issue stats``)."""
    from rich.table import Table

    from pipeline.scheduling.timeparse import format_local

    tz = get_settings().newsletter.tz
    table = Table(title=f"A/B subject test: {ab.phase}")
    for column in ("variant", "subject", "sample", "sent", "opens", "clicks", "rate", "rest"):
        table.add_column(column, justify="left" if column == "subject" else "right")
    for v in ab.variants:
        mark = " (winner)" if ab.winner == v.variant else ""
        table.add_row(
            v.variant + mark,
            v.subject,
            f"{v.sample:,}",
            f"{v.sent:,}",
            f"{v.opens:,}",
            f"{v.clicks:,}",
            f"{v.rate(ab.winner_by):.1%}",
            f"{v.rest_sent:,}",
        )
    console.print(table)
    lines = [
        f"Sample {ab.sample_share:.0%} of the audience; winner by human {ab.winner_by} per "
        f"message ({ab.rule})."
    ]
    if ab.phase == "waiting" and ab.decide_at is not None:
        lines.append(
            f"The sample is sent; the winner is chosen at {format_local(ab.decide_at, tz)} "
            f"by the first 'newsletter send-due' after it (or now: 'newsletter issue "
            f"ab-winner {ab.slug} VARIANT')."
        )
    if ab.decision:
        lines.append(f"Decision: {ab.decision.get('reason', '')}")
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)


def _print_zones(local: str, zones: list[ZoneProgress]) -> None:
    from rich.table import Table

    from pipeline.scheduling.timeparse import format_local

    table = Table(title=f"Local time: {local} in each reader's zone")
    for column in ("zone", "due (UTC)", "state", "sent", "pending", "other", "total"):
        table.add_column(column, justify="left" if column in ("zone", "state") else "right")
    for z in zones:
        other = z.total - z.counts["sent"] - z.counts["pending"]
        table.add_row(
            z.zone,
            format_local(z.due_at, UTC),
            z.state,
            f"{z.counts['sent']:,}",
            f"{z.counts['pending']:,}",
            f"{other:,}",
            f"{z.total:,}",
        )
    console.print(table)
    last = max((z.due_at for z in zones if z.due_at), default=None)
    if last is not None:
        console.print(
            f"The last zone falls due at {format_local(last, UTC)}.", markup=False, soft_wrap=True
        )


@issue_app.command("ab-winner", short_help="Choose the A/B test's winning subject now.")
def ab_winner_command(
    slug: str = typer.Argument(..., help="The issue (edition) slug."),
    variant: str = typer.Argument(..., help="The subject variant: A, B, C or D (or 1 to 4)."),
    by: str = typer.Option("editor", "--by", help="Who chose it (recorded with the decision)."),
) -> None:
    """Choose the A/B test's winner: the rest of the audience receives that subject at the
    next 'send-due' (without waiting any longer)."""
    from pipeline.sending.abtest import choose_winner

    chosen = choose_winner(get_engine(), slug, variant, by=by, now=get_clock().now())
    console.print(
        f"{slug}: variant {chosen} chosen; the rest of the audience receives it at the next "
        f"'newsletter send-due' (or 'newsletter issue resume {slug}').",
        markup=False,
        soft_wrap=True,
    )


@issue_app.command("resume", short_help="Continue a paused or crashed send.")
def resume_command(slug: str = typer.Argument(..., help="The issue (edition) slug.")) -> None:
    """Continue a paused or crashed send: in-flight messages are sent again."""
    from pipeline.sending.editions import REFREEZABLE, get_edition, transition
    from pipeline.sending.engine import reclaim_in_flight

    settings, engine, clock = get_settings(), get_engine(), get_clock()
    edition = get_edition(engine, slug)
    if edition.status == "sent":
        console.print(f"{slug} was already sent; nothing to resume.", markup=False, soft_wrap=True)
        return
    if edition.status not in ("sending", "paused"):
        raise SendError(
            f"{slug} is {edition.status}; only a paused or interrupted send can be resumed",
            fix=f"use 'newsletter issue send {slug}'"
            if edition.status in REFREEZABLE
            else "copy the issue to a new slug to send it again",
        )
    reclaimed = reclaim_in_flight(engine, edition.id, clock=clock)
    if reclaimed:
        console.print(
            f"Reclaimed {reclaimed} message(s) that were in flight when the last run stopped;"
            f" they are sent again, so up to {reclaimed} recipient(s) may get {slug} twice.",
            markup=False,
            soft_wrap=True,
        )
    transition(engine, edition.id, ["paused"], "sending", pause_reason=None)
    _run(settings, engine, get_edition(engine, slug), clock)


@issue_app.command("cancel", short_help="Stop an edition; what was sent stays sent.")
def cancel_command(slug: str = typer.Argument(..., help="The issue (edition) slug.")) -> None:
    """Stop an edition: a running send stops within a few messages; what was sent stays."""
    from pipeline.sending.control import cancel_edition

    done = cancel_edition(get_engine(), slug, clock=get_clock())
    console.print(
        f"Cancelled {slug}: {done.cancelled} pending message(s) will not be sent;"
        f" {done.sent} were sent before.",
        markup=False,
        soft_wrap=True,
    )


@issue_app.command("retry-failed")
def retry_failed_command(
    slug: str = typer.Argument(..., help="The issue (edition) slug."),
    uncertain: bool = typer.Option(
        False,
        "--uncertain",
        help="Also send again to the uncertain rows (some of them may get two copies).",
    ),
) -> None:
    """Send again to the recipients whose delivery failed."""
    from pipeline.sending.editions import get_edition
    from pipeline.sending.retrying import retry_failed

    settings, engine, clock = get_settings(), get_engine(), get_clock()
    count = retry_failed(engine, slug, uncertain=uncertain, clock=clock)
    what = "failed or uncertain" if uncertain else "failed"
    if not count:
        console.print(f"{slug} has no {what} deliveries.", markup=False, soft_wrap=True)
        return
    console.print(f"Retrying {count} {what} deliver{'y' if count == 1 else 'ies'}.")
    _run(settings, engine, get_edition(engine, slug), clock)


@issue_app.command("report", short_help="Who got the edition, who did not, and why.")
def report_command(
    slug: str = typer.Argument(..., help="The issue (edition) slug."),
    path: Path | None = typer.Argument(None, help="Where to write the CSV (default: stdout)."),
    as_csv: bool = typer.Option(
        False, "--csv", help="Write one CSV row per recipient: who got it, who did not, why."
    ),
) -> None:
    """The delivery report: who got the edition, who did not, and why."""

    from pipeline.sending import ledger
    from pipeline.sending.editions import get_edition
    from pipeline.sending.report import failures, write_report_csv

    engine = get_engine()
    edition = get_edition(engine, slug)
    if as_csv:
        if path is None:
            write_report_csv(engine, edition.id, sys.stdout)
            return
        with open_output(path) as out:
            rows = write_report_csv(engine, edition.id, out)
        console.print(f"Wrote {rows} row(s) to {path}", markup=False, soft_wrap=True)
        return
    counts = ledger.count_by_status(engine, edition.id)
    maybe = f" {counts['uncertain']} uncertain (may have got it)," if counts["uncertain"] else ""
    console.print(
        f"{slug} ({edition.status}): {counts['sent']} got it; {counts['failed']} failed,{maybe}"
        f" {counts['skipped']} skipped, {counts['pending'] + counts['in_flight']} not sent yet,"
        f" {counts['cancelled']} cancelled.",
        markup=False,
        soft_wrap=True,
    )
    missed = failures(engine, edition.id)
    if missed:
        from pipeline.cli.tables import Column, fit_table

        columns = [Column("email", flexible=True), Column("status"), Column("why", flexible=True)]
        cells = [[address, state, why] for address, state, why in missed]
        console.print(fit_table(columns, cells, title="Not delivered (first 20)"))
    console.print(
        f"Everyone, as CSV: newsletter issue report {slug} --csv report.csv",
        markup=False,
        soft_wrap=True,  # one line: the command is copied whole
    )
