"""`newsletter subscribers add|remove|unsubscribe|show|list|count|import|export|...`.

Also `export-data` (GDPR access) and `erase` (GDPR erasure).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    console,
    err_console,
    get_clock,
    get_engine,
    get_settings,
    open_output,
    print_json,
    subscribers_app,
)
from pipeline.errors import SubscriberError
from pipeline.subscribers.formats import FORMATS

if TYPE_CHECKING:
    from rich.table import Table
    from sqlalchemy import Engine

    from pipeline.subscribers.importing import ImportReport
    from pipeline.subscribers.service import SubscriberInfo


LIST_OPTION = typer.Option(
    None,
    "--list",
    "-l",
    metavar="<slug>",
    help="A list slug; repeat for several lists.",
    show_default=False,
)
CLI_CONSENT = "added with 'newsletter subscribers add' by an operator"


def _engine() -> Engine:
    from pipeline.subscribers.service import sync_lists

    engine = get_engine()
    sync_lists(engine, get_settings())
    return engine


def _default_lists(given: list[str] | None) -> list[str]:
    if given:
        return given
    slugs = get_settings().list_slugs
    if len(slugs) == 1:
        return slugs
    raise SubscriberError(
        "which lists? name them with --list", fix="known lists: " + ", ".join(slugs)
    )


def _find(engine: Engine, email: str) -> SubscriberInfo:
    from pipeline.subscribers.service import get_subscriber

    info = get_subscriber(engine, email=email)
    if info is None:
        raise SubscriberError(
            f"no subscriber {email.strip().lower()}",
            fix="check the address with 'newsletter subscribers list'",
        )
    return info


def _info_dict(info: SubscriberInfo) -> dict[str, object]:
    return asdict(info)


@subscribers_app.command(
    "add",
    short_help="Subscribe one address to lists (you state they agreed).",
)
def add(
    email: str = typer.Argument(..., help="The address to subscribe."),
    lists: list[str] | None = LIST_OPTION,
    name: str = typer.Option("", "--name", help="The person's name."),
    unconfirmed: bool = typer.Option(
        False, "--unconfirmed", help="Add as unconfirmed (not sent to until confirmed)."
    ),
    resubscribe: bool = typer.Option(
        False,
        "--resubscribe",
        help="The person asked to come back: lift an earlier unsubscribe or bounce.",
    ),
    fields: list[str] | None = typer.Option(
        None,
        "--field",
        metavar="<key=value>",
        help="A custom field, KEY=VALUE (repeatable), e.g. timezone=Europe/London; an "
        "existing subscriber's other fields are kept.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Subscribe one address to lists (confirmed: you state the person agreed)."""
    from pipeline.subscribers.normalise import normalise_email
    from pipeline.subscribers.service import add_subscriber
    from pipeline.subscribers.suppression import LIFTABLE, suppression_reason
    from pipeline.subscribers.tagnames import field_key

    attributes: dict[str, str] = {}
    for item in fields or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SubscriberError(
                f"--field {item!r} is not KEY=VALUE",
                fix="write e.g. --field timezone=Europe/London",
            )
        attributes[field_key(key)] = value.strip()
    if "timezone" in attributes:
        from pipeline.sending.localtime import known_zone

        if known_zone(attributes["timezone"]) is None:
            raise SubscriberError(
                f"{attributes['timezone']!r} is not a time zone",
                fix="use an IANA name such as Europe/London, America/Los_Angeles or "
                "Pacific/Auckland",
            )
    engine = _engine()
    result = add_subscriber(
        engine,
        email,
        name=name,
        lists=_default_lists(lists),
        method="cli",
        consent_text=CLI_CONSENT,
        confirmed=not unconfirmed,
        allow_resubscribe=resubscribe,
        attributes=attributes or None,
    )
    if as_json:
        print_json(asdict(result))
        return
    if result.suppressed:
        reason = suppression_reason(engine, email) or "unsubscribed"
        lift = "only if the person asked to come back: add --resubscribe"
        raise SubscriberError(
            f"{normalise_email(email)} is suppressed ({reason}) and was not added",
            fix=lift if reason in LIFTABLE else "this suppression is never lifted",
        )
    verb = "Added" if result.created else "Updated"
    console.print(f"{verb} {email.strip().lower()} (id {result.subscriber_id}).")


@subscribers_app.command(
    "remove",
    short_help="Delete subscriptions, without suppressing: for mistakes.",
)
def remove(
    email: str = typer.Argument(..., help="The address to remove."),
    lists: list[str] | None = LIST_OPTION,
) -> None:
    """Delete subscriptions (or, without --list, the subscriber) without suppressing the
    address: for mistakes. To stop mail for good use 'unsubscribe'; for GDPR use 'erase'."""
    from pipeline.subscribers.removal import remove_subscriber

    removal = remove_subscriber(_engine(), email, lists=lists or None, method="cli")
    where = f"from {', '.join(lists)}" if lists else "with their subscriptions and history"
    console.print(f"Removed {removal.email} {where}.")


@subscribers_app.command(
    "unsubscribe",
    short_help="Unsubscribe from lists, or everything, and suppress.",
)
def unsubscribe_cmd(
    email: str = typer.Argument(..., help="The address to unsubscribe."),
    lists: list[str] | None = LIST_OPTION,
) -> None:
    """Unsubscribe from lists; without --list, from everything, and suppress the address
    (also for an address that is not a subscriber: it will never be added or imported)."""
    from pipeline.subscribers.normalise import normalise_email
    from pipeline.subscribers.service import get_subscriber, suppress, unsubscribe

    engine = _engine()
    if not lists and get_subscriber(engine, email=email) is None:
        suppress(engine, email, "unsubscribed", source="cli")
        console.print(f"{normalise_email(email)} is not a subscriber; the address is suppressed.")
        return
    info = _find(engine, email)
    unsubscribe(engine, info.id, lists or None, method="cli")
    if lists:
        console.print(f"Unsubscribed {info.email} from {', '.join(lists)}.")
    else:
        console.print(f"Unsubscribed {info.email} from every list; the address is suppressed.")


@subscribers_app.command("show")
def show(
    email: str = typer.Argument(..., help="The subscriber's address (any case)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one subscriber: status, lists, attributes."""
    from rich.markup import escape
    from rich.table import Table

    info = _find(_engine(), email)
    if as_json:
        print_json(_info_dict(info))
        return
    table = Table(title=escape(info.email), show_header=False)
    table.add_column("field")
    table.add_column("value")
    table.add_row("id", str(info.id))
    table.add_row("name", escape(info.name or "-"))
    table.add_row("status", info.status)
    table.add_row("created", info.created_at.isoformat() if info.created_at else "-")
    for slug, status in info.subscriptions.items():
        table.add_row(f"list {slug}", status)
    table.add_row("tags", escape(", ".join(info.tags) or "-"))
    for key, value in info.attributes.items():
        table.add_row(escape(f"field {key}"), escape(str(value)))
    console.print(table)


@subscribers_app.command("list")
def list_(
    list_slug: str | None = typer.Option(None, "--list", "-l", help="Only this list."),
    status: str | None = typer.Option(
        None, "--status", help="active, unsubscribed, bounced or complained."
    ),
    limit: int = typer.Option(100, "--limit", help="At most this many (0 = all)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List subscribers (oldest first)."""

    from pipeline.cli.tables import Column, fit_table
    from pipeline.subscribers.queries import list_subscribers

    rows = list_subscribers(_engine(), list_slug, status, limit or None)
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    columns = [
        Column("id", justify="right"),
        Column("email", flexible=True),
        Column("name", flexible=True),
        Column("status"),
        Column("lists", flexible=True),
    ]
    cells = [
        [
            str(r.id),
            r.email,
            r.name,
            r.status,
            ", ".join(f"{slug} ({s})" for slug, s in r.subscriptions.items()) or "-",
        ]
        for r in rows
    ]
    console.print(
        fit_table(columns, cells, title=f"Subscribers{' on ' + list_slug if list_slug else ''}")
    )
    if limit and len(rows) == limit:
        console.print(f"(first {limit}; use --limit 0 for all)")


@subscribers_app.command(
    "count",
    short_help="Count subscribers by status, and an issue's audience.",
)
def count(
    lists: list[str] | None = LIST_OPTION,
    segment: str | None = typer.Option(
        None, "--segment", "-s", help="A [[segments]] name: count who is in it."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Count subscribers by status, and the audience an issue to these lists (and segment)
    would reach."""
    from rich.table import Table

    from pipeline.subscribers.audience import count_segment
    from pipeline.subscribers.queries import count_subscribers
    from pipeline.subscribers.segments import segment_condition

    engine = _engine()
    counts = count_subscribers(engine, lists)
    in_segment: int | None = None
    if segment:
        condition = segment_condition(get_settings(), segment)
        in_segment = count_segment(
            engine, condition, now=get_clock().now(), lists=list(lists) if lists else None
        )
    if as_json:
        data: dict[str, object] = {
            "by_status": counts.by_status,
            "total": counts.total,
            "audience": counts.audience,
        }
        if segment:
            data["segment"] = {"name": segment, "count": in_segment}
        print_json(data)
        return
    if segment:
        where = f" on {', '.join(lists)}" if lists else ""
        console.print(
            f"Segment {segment}{where}: {in_segment:,} active subscriber(s).", markup=False
        )
    table = Table(title="Subscribers" + (f" on {', '.join(lists)}" if lists else ""))
    table.add_column("status")
    table.add_column("count", justify="right")
    for status, n in counts.by_status.items():
        table.add_row(status, f"{n:,}")
    table.add_row("total", f"{counts.total:,}")
    table.add_row("audience (confirmed, not suppressed)", f"{counts.audience:,}")
    console.print(table)


def _summary(report: ImportReport) -> Table:
    from rich.table import Table

    table = Table(title=f"{report.path.name}: {report.format} format")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("added", f"{report.added:,}")
    table.add_row("updated", f"{report.updated:,}")
    table.add_row("unchanged", f"{report.unchanged:,}")
    table.add_row("suppressed", f"{report.suppressed:,} ({report.newly_suppressed:,} new)")
    table.add_row("rejected", f"{report.rejected:,}")
    return table


@subscribers_app.command(
    "import",
    short_help="Import subscribers from CSV (Mailchimp, Substack, more).",
)
def import_(
    file: Path = typer.Argument(..., help="The CSV file."),
    lists: list[str] | None = LIST_OPTION,
    format: str | None = typer.Option(
        None, "--format", help="One of " + ", ".join(FORMATS) + " (default: from the header)."
    ),
    check_dns: bool = typer.Option(
        False, "--check-dns", help="Also ask DNS whether each domain accepts mail (slow)."
    ),
    rejects: Path | None = typer.Option(
        None,
        "--rejects",
        help="Where rejected rows go (default: var/rejects/FILE.rejects.csv).",
    ),
    unconfirmed: bool = typer.Option(
        False, "--unconfirmed", help="Import as unconfirmed instead of confirmed."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import subscribers from CSV (plain, Mailchimp, listmonk, Ghost, Substack, Buttondown)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from pipeline.subscribers.importing import import_subscribers

    engine = _engine()
    options = {
        "lists": lists or None,
        "format": format,
        "confirmed": not unconfirmed,
        "check_dns": check_dns,
        "rejects_path": rejects,
        "rejects_dir": get_settings().var_dir / "rejects",
    }
    show_bar = not as_json and err_console.is_terminal
    try:
        if show_bar:
            with Progress(
                TextColumn("importing"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            ) as bar:
                task = bar.add_task("import", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = import_subscribers(engine, file, progress=progress, **options)  # type: ignore[arg-type]
        else:
            report = import_subscribers(engine, file, **options)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        err_console.print(
            "Interrupted. Every batch written so far is complete; run the same command"
            " again to finish the import.",
            markup=False,
        )
        raise typer.Exit(code=130) from None
    if as_json:
        print_json(report.as_dict())
        return
    console.print(_summary(report))
    if report.ambiguous_dates:
        console.print(
            f"{report.ambiguous_dates:,} date(s) such as {report.ambiguous_example!r} could be"
            " month/day or day/month; they were read month first (US). If the file writes"
            " day first, convert its dates to ISO (2024-05-01) and import it again.",
            soft_wrap=True,
            markup=False,
        )
    if report.rejects_path is not None:
        console.print(
            f"Rejected rows, with the reason for each: {report.rejects_path}",
            soft_wrap=True,
            markup=False,
        )


@subscribers_app.command(
    "export",
    short_help="Export subscribers and their consent records as CSV.",
)
def export(
    lists: list[str] | None = LIST_OPTION,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file (default: standard output)."
    ),
) -> None:
    """Export subscribers with their consent records as CSV (one row per subscription)."""
    from pipeline.subscribers.exporting import export_csv

    engine = _engine()
    if output is None:
        n = export_csv(engine, sys.stdout, lists or None)
        sys.stdout.flush()
    else:
        with open_output(output) as fh:
            n = export_csv(engine, fh, lists or None)
        console.print(f"Wrote {n:,} rows to {output}.", soft_wrap=True, markup=False)


@subscribers_app.command(
    "export-data",
    short_help="Print everything held about one person as JSON (GDPR).",
)
def export_data(email: str = typer.Argument(..., help="The person's address.")) -> None:
    """Print everything held about one person as JSON (GDPR access request)."""
    from pipeline.subscribers.exporting import export_person

    print_json(export_person(_engine(), email))


@subscribers_app.command("erase", short_help="Delete everything about a person (GDPR erasure).")
def erase(
    email: str = typer.Argument(..., help="The person's address."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete everything about a person (GDPR erasure); only a salted hash stays, so the
    address is never imported or sent to again."""
    from pipeline.subscribers.erasure import erase as erase_person

    engine = _engine()
    if not yes:
        if not sys.stdin.isatty():  # cron, a script: nobody to answer (typer said "Aborted!")
            raise SubscriberError(
                f"not erasing {email.strip().lower()} without confirmation",
                fix="pass --yes to erase without being asked",
            )
        typer.confirm(
            f"Erase every record of {email.strip().lower()}? This cannot be undone", abort=True
        )
    report = erase_person(engine, email)
    what = (
        f"{report.subscriptions} subscription(s), {report.log_entries} history entries,"
        f" {report.deliveries} delivery record(s) anonymised"
        if report.found
        else f"no subscriber record; {report.deliveries} delivery record(s) anonymised"
    )
    console.print(
        f"Erased {report.email}: {what}. The address is suppressed for good (hash only).",
        soft_wrap=True,
    )


@subscribers_app.command(
    "send-queued",
    short_help="Send the confirmation and welcome emails signups queued.",
)
def send_queued_cmd(as_json: bool = JSON_OPTION) -> None:
    """Send the confirmation and welcome emails that web signups queued (the web app does it
    itself unless web.queue_interval is 0; send-due does it too). For cron."""
    from pipeline.cli.schedule import queue_summary
    from pipeline.sending.mail_queue import send_queued

    report = send_queued(get_settings(), _engine(), clock=get_clock())
    if as_json:
        print_json(asdict(report))
        return
    console.print(queue_summary(report), soft_wrap=True)
    if report.failed:
        raise typer.Exit(code=1)
