"""Commands of the schedule stage.

newsletter issue schedule SLUG [--at "2026-12-01 09:00"] [--tz Europe/London] [--fold ...]
newsletter issue reschedule SLUG [--at ...]      freeze edited files again / move it
newsletter issue unschedule SLUG
newsletter schedule [--json]                      upcoming, running and recent editions
newsletter send-due [--quiet] [--log-file PATH] [--log-format text|json] [--include-late]
newsletter cron-line [--every 5] [--systemd]     a ready crontab line
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    app,
    before_long_work,
    console,
    err_console,
    get_clock,
    get_engine,
    get_settings,
    issue_app,
    print_json,
)
from pipeline.errors import NewsletterError, ScheduleError

if TYPE_CHECKING:
    from rich.table import Table

    from pipeline.scheduling.due import DueReport
    from pipeline.scheduling.listing import ScheduleEntry
    from pipeline.scheduling.plan import Scheduled
    from pipeline.sending.mail_queue import QueueReport


class FoldChoice(StrEnum):
    first = "first"
    second = "second"


class LogFormat(StrEnum):
    text = "text"
    json = "json"


AT_HELP = (
    "When to send, in the newsletter's time zone: '2026-12-01 09:00', or with an offset "
    "'2026-12-01 09:00+01:00'. Default: send_at in the issue's front matter."
)
TZ_HELP = "Read --at in this IANA time zone (default: [newsletter] timezone)."
FOLD_HELP = "For a time that happens twice when the clocks go back: the first or the second."


def _print_scheduled(result: Scheduled, verb: str, as_json: bool) -> None:
    from pipeline.scheduling.runs import last_run

    if as_json:
        print_json(result.as_dict())
        return
    utc = result.send_at.strftime("%Y-%m-%d %H:%M UTC")
    lists = ", ".join(result.lists) or "no lists"
    console.print(
        f"{verb} {result.slug} for {result.local} ({utc}) to {lists}.", markup=False, soft_wrap=True
    )
    console.print(
        "Built, checked and frozen: edits made from now on are sent only after "
        f"'newsletter issue reschedule {result.slug}'.",
        markup=False,
        soft_wrap=True,
    )
    for warning in result.warnings:
        err_console.print(f"Warning: {warning}", markup=False, soft_wrap=True)
    if last_run(get_engine()) is None:
        console.print(
            "No send-due run is recorded yet: cron must run 'newsletter send-due' "
            "('newsletter cron-line' prints the crontab line).",
            markup=False,
            soft_wrap=True,
        )


def _plan(
    plan: Callable[..., Scheduled],
    verb: str,
    slug: str,
    at: str | None,
    tz: str | None,
    fold: FoldChoice | None,
    as_json: bool,
) -> None:
    """Run schedule_issue or reschedule_issue with the command's options, and report."""
    result = plan(
        get_settings(),
        get_engine(),
        slug,
        at=at,
        tz_name=tz,
        fold=fold.value if fold else None,
        clock=get_clock(),
    )
    _print_scheduled(result, verb, as_json)


@issue_app.command("schedule", short_help="Build, check and freeze the issue to be sent at a time.")
def schedule_cmd(
    slug: str = typer.Argument(..., help="The issue folder's name under issues/."),
    at: str | None = typer.Option(None, "--at", help=AT_HELP),
    tz: str | None = typer.Option(None, "--tz", help=TZ_HELP),
    fold: FoldChoice | None = typer.Option(None, "--fold", help=FOLD_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Build and check the issue, then freeze it to be sent at a time (by send-due)."""
    from pipeline.scheduling.plan import schedule_issue

    _plan(schedule_issue, "Scheduled", slug, at, tz, fold, as_json)


@issue_app.command("reschedule", short_help="Freeze the edited files again; move it with --at.")
def reschedule_cmd(
    slug: str = typer.Argument(..., help="The issue folder's name under issues/."),
    at: str | None = typer.Option(
        None, "--at", help="A new time (default: keep the scheduled time)."
    ),
    tz: str | None = typer.Option(None, "--tz", help=TZ_HELP),
    fold: FoldChoice | None = typer.Option(None, "--fold", help=FOLD_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Freeze the issue's edited files again, and move it to --at if given."""
    from pipeline.scheduling.plan import reschedule_issue

    _plan(reschedule_issue, "Rescheduled", slug, at, tz, fold, as_json)


@issue_app.command("unschedule", short_help="Take an issue off the schedule; nothing is sent.")
def unschedule_cmd(
    slug: str = typer.Argument(..., help="The issue folder's name under issues/."),
) -> None:
    """Take a scheduled (or missed) issue off the schedule; nothing is sent."""
    from pipeline.scheduling.plan import unschedule_issue
    from pipeline.scheduling.timeparse import format_local

    edition = unschedule_issue(get_engine(), slug)
    when = format_local(edition.send_at, get_settings().newsletter.tz)
    console.print(
        f"Unscheduled {slug} (it was due {when}). Schedule it again with "
        f"'newsletter issue schedule {slug} --at ...'.",
        markup=False,
        soft_wrap=True,
    )


# ---- the schedule listing ----------------------------------------------------------------
def _table(title: str, entries: list[ScheduleEntry], tz_name: str) -> Table:
    from pipeline.cli.tables import Column, fit_table

    # At 80 columns the slug stays whole; the other cells continue on a second line
    # ("2026-12-01" over "09:00 GMT") rather than lose their ends.
    columns = [
        Column("Issue"),
        Column("Status", wrap=True),
        Column("Send at", wrap=True),
        Column("Lists", wrap=True),
        Column("Note", wrap=True),
    ]
    rows = [
        [
            f"{e.status} {e.progress}".strip(),  # "sending 5/19": sent so far of all
            e.send_at_local or "-",
            ", ".join(e.lists),
            e.note,
        ]
        for e in entries
    ]
    rows = [[e.slug, *row] for e, row in zip(entries, rows, strict=True)]
    return fit_table(columns, rows, title=f"{title} (times in {tz_name})")


@app.command("schedule", short_help="List upcoming, running and recent editions.")
def schedule_list_cmd(
    recent: int = typer.Option(
        10, "--recent", min=0, metavar="<int>", help="How many past editions to show."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """List upcoming, running and recent editions, in the newsletter's time zone."""
    from pipeline.scheduling.listing import list_schedule
    from pipeline.scheduling.timeparse import format_duration, format_local

    settings = get_settings()
    listing = list_schedule(settings, get_engine(), clock=get_clock(), recent=recent)
    if as_json:
        print_json(listing.as_dict())
        return
    tz = settings.newsletter.tz
    for title, entries, empty in (
        ("Upcoming", listing.upcoming, "Nothing scheduled."),
        ("Running", listing.running, ""),
        ("Recent", listing.recent, ""),
    ):
        if entries:
            console.print(_table(title, entries, settings.newsletter.timezone))
        elif empty:
            console.print(empty, markup=False, soft_wrap=True)
    run = listing.last_run
    if run is None:
        console.print(
            "No send-due run recorded yet: 'newsletter cron-line' prints the crontab line.",
            markup=False,
            soft_wrap=True,
        )
    else:
        age = listing.now - run.started_at
        ago = f" ({format_duration(age)} ago)" if age.total_seconds() >= 0 else ""
        console.print(
            f"Last send-due run: {format_local(run.started_at, tz)}{ago}, {run.status}, "
            f"{run.sent} sent, {run.missed} missed.",
            markup=False,
            soft_wrap=True,
        )


# ---- send-due ----------------------------------------------------------------------------
class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


@contextmanager
def _logging(quiet: bool, log_file: Path | None, log_format: LogFormat) -> Iterator[logging.Logger]:
    """Where send-due's events go: the terminal (or cron's mail), and a log file."""
    from pipeline.scheduling.logs import MessageFormatter, formatter

    logger = logging.getLogger("pipeline.scheduling")
    logger.setLevel(logging.INFO)
    propagate, logger.propagate = logger.propagate, False
    handlers: list[logging.Handler] = []
    if log_format is LogFormat.json and log_file is None:
        out = logging.StreamHandler(sys.stdout)
        out.setFormatter(formatter("json"))
        out.setLevel(logging.ERROR if quiet else logging.INFO)
        handlers.append(out)
    else:
        if not quiet:
            out = logging.StreamHandler(sys.stdout)
            out.setFormatter(MessageFormatter())
            out.addFilter(_Below(logging.ERROR))
            handlers.append(out)
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(MessageFormatter())
        err.setLevel(logging.ERROR)
        handlers.append(err)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            to_file = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise ScheduleError(
                f"cannot write the log file {log_file}: {exc.strerror}",
                fix="give --log-file a path in a folder you can write to",
            ) from None
        to_file.setFormatter(formatter(log_format.value))
        handlers.append(to_file)
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield logger
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.propagate = propagate


def _summary(report: DueReport) -> str:
    from pipeline.scheduling.timeparse import format_duration, format_local

    tz = get_settings().newsletter.tz
    if not report.outcomes:
        if report.next_slug and report.next_at:
            wait = format_duration(report.next_at - report.now)
            return (
                f"Nothing due. Next: {report.next_slug} at "
                f"{format_local(report.next_at, tz)} (in {wait})."
            )
        return "Nothing due. No edition is scheduled."
    parts = [
        f"{len(report.outcomes)} edition(s)",
        f"{report.sent} message(s) sent by this run",
    ]
    if report.failed:
        parts.append(f"{report.failed} failed")
    if report.missed:
        parts.append(f"{len(report.missed)} missed")
    paused = [o for o in report.outcomes if o.action == "paused"]
    if paused:
        parts.append(f"{len(paused)} paused")
    held = [o for o in report.outcomes if o.action == "held"]
    if held:
        parts.append(f"{len(held)} held (not approved)")
    return "send-due: " + ", ".join(parts) + ("." if report.ok else " (exit 1).")


@app.command("send-due", short_help="Send every due edition, then exit (run it from cron).")
def send_due_cmd(
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print nothing unless something fails (for cron)."
    ),
    log_file: Path | None = typer.Option(
        None, "--log-file", help="Also append every event to this file."
    ),
    log_format: LogFormat = typer.Option(
        LogFormat.text,
        "--log-format",
        help="Format of the log file (or, without --log-file, of the output): text or json "
        "(one JSON object per line).",
    ),
    include_late: bool = typer.Option(
        False,
        "--include-late",
        help="Also send editions overdue by more than sending.max_lateness_hours, including "
        "ones an earlier run marked missed.",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-w",
        min=1,
        metavar="<int>",
        help="Worker processes per edition (default: sending.workers, or one per CPU for "
        "large audiences).",
    ),
) -> None:
    """Send every due edition and resume interrupted ones, then exit (run it from cron).

    Exit status 1 when an edition was missed, held (not approved), paused or failed, so
    cron's mail notices.
    """
    from pipeline.config import secret_key_warning
    from pipeline.scheduling.due import send_due

    settings = get_settings()
    with _logging(quiet, log_file, log_format) as logger:
        warning = secret_key_warning(settings)
        if warning:  # into the log file too (--quiet prints errors only)
            logger.warning(warning, extra={"fields": {"event": "secret_key_file"}})
        before_long_work()
        try:
            report = send_due(
                settings,
                get_engine(),
                clock=get_clock(),
                include_late=include_late,
                workers=workers,
            )
        except NewsletterError as exc:  # e.g. the database is down: into the log file too
            logger.error(f"Error: {exc}", extra={"fields": {"event": "error"}})
            raise typer.Exit(code=1) from None
        summary = _summary(report)
        event = "nothing_due" if not report.outcomes else "summary"
        logger.info(summary, extra={"fields": {"event": event, **_counts(report)}})
        if report.emails.worked:
            logger.info(
                queue_summary(report.emails),
                extra={"fields": {"event": "mail_queue", **asdict(report.emails)}},
            )
    if not report.ok:
        raise typer.Exit(code=1)


def queue_summary(report: QueueReport) -> str:
    """One line about the queue of confirmation and welcome emails."""
    parts = [f"{report.sent} sent"]
    for label, n in (("skipped", report.skipped), ("failed", report.failed)):
        if n:
            parts.append(f"{n} {label}")
    if report.retrying:
        parts.append(f"{report.retrying} to retry")
    return "Queued signup emails: " + ", ".join(parts) + "."


def _counts(report: DueReport) -> dict[str, object]:
    return {
        "ok": report.ok,
        "editions": len(report.outcomes),
        "sent": report.sent,
        "failed": report.failed,
        "missed": len(report.missed),
        "worker": report.worker,
    }


# ---- cron-line ---------------------------------------------------------------------------
def newsletter_executable() -> str:
    """The absolute path of this `newsletter` script (the one cron should run)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "newsletter" and argv0.exists():
        return str(argv0.absolute())
    beside = Path(sys.executable).parent / "newsletter"
    if beside.exists():
        return str(beside.absolute())
    found = shutil.which("newsletter")
    return str(Path(found).absolute()) if found else "newsletter"


@app.command("cron-line", short_help="Print a ready crontab line that runs send-due.")
def cron_line_cmd(
    every: int = typer.Option(5, "--every", help="Run every N minutes (1-59)."),
    log_file: Path | None = typer.Option(
        None, "--log-file", help="Log file (default: var/log/send-due.log in this folder)."
    ),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format", help="text or json."),
    no_log: bool = typer.Option(False, "--no-log", help="Write no log file."),
    no_flock: bool = typer.Option(
        False, "--no-flock", help="Do not wrap the command in 'flock -n' (one run at a time)."
    ),
    systemd: bool = typer.Option(
        False, "--systemd", help="Print a systemd service and timer instead of a crontab line."
    ),
) -> None:
    """Print a ready crontab line (absolute paths) that runs send-due every few minutes."""
    from pipeline.scheduling.cronline import CronPlan, cron_line, default_log_file, systemd_units

    settings = get_settings()
    flock = None if no_flock else shutil.which("flock")
    plan = CronPlan(
        executable=newsletter_executable(),
        every=every,
        log_file=None
        if no_log
        else (log_file.absolute() if log_file else default_log_file(settings)),
        log_format=log_format.value,
        flock=flock,
    )
    if systemd:
        for name, text in systemd_units(settings, plan).items():
            sys.stdout.write(f"# /etc/systemd/system/{name}\n{text}\n")
        return
    line = cron_line(settings, plan)
    sys.stdout.write(line + "\n")
