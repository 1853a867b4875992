"""Commands of the feeds stage: ``feeds add|list|remove|fetch``, ``inbox list``, ``digest run``."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    console,
    digest_app,
    err_console,
    feeds_app,
    get_clock,
    get_engine,
    get_settings,
    inbox_app,
    print_json,
)

if TYPE_CHECKING:
    from pipeline.feeds.fetch import FetchResult
    from pipeline.feeds.refresh import FeedOutcome


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else "-"


@feeds_app.command("add")
def feeds_add(
    url: str = typer.Argument(..., help="Feed URL (http, https, file://) or a local file path."),
    name: str = typer.Option("", "--name", help="Name shown as the articles' source."),
    tags: list[str] = typer.Option(
        [],
        "--tags",
        "--tag",
        metavar="<tag>",
        help="Tags for its entries (repeat, or comma-separated).",
    ),
) -> None:
    """Add a feed to fetch into the inbox."""
    from pipeline.feeds.sources import add_feed

    settings = get_settings()
    feed = add_feed(get_engine(), url, name=name, tags=tags, root=settings.root)
    tag_text = f" [{', '.join(feed.tags)}]" if feed.tags else ""
    console.print(f"Added feed {feed.label}{tag_text}: {feed.url}", markup=False, soft_wrap=True)


@feeds_app.command("list")
def feeds_list(as_json: bool = JSON_OPTION) -> None:
    """List the feeds, with how their last fetch went."""
    from pipeline.cli.tables import Column, fit_table
    from pipeline.feeds.sources import list_feeds, sync_config_feeds

    engine = get_engine()
    sync_config_feeds(get_settings(), engine)
    feeds = list_feeds(engine)
    if as_json:
        print_json(
            [
                {
                    "id": f.id,
                    "url": f.url,
                    "name": f.name,
                    "tags": f.tags,
                    "origin": f.origin,
                    "last_fetched_at": f.last_fetched_at.isoformat() if f.last_fetched_at else None,
                    "last_status": f.last_status,
                    "last_error": f.last_error,
                }
                for f in feeds
            ]
        )
        return
    if not feeds:
        console.print(
            "No feeds yet. Add one with: newsletter feeds add URL --name NAME --tags news"
        )
        return
    columns = [
        Column("Id", justify="right"),
        Column("Name", flexible=True),
        Column("URL", flexible=True),
        Column("Tags", flexible=True),
        Column("From"),
        Column("Last fetch"),
        Column("Status", flexible=True),
    ]
    rows = []
    for f in feeds:
        status = f.last_status or "never fetched"
        if f.last_error:
            status = f"{status}: {f.last_error}"
        rows.append(
            [
                str(f.id),
                f.name,
                f.url,
                ", ".join(f.tags),
                f.origin,
                _when(f.last_fetched_at),
                status,
            ]
        )
    console.print(fit_table(columns, rows, title="Feeds"))


@feeds_app.command("remove")
def feeds_remove(
    feed: str = typer.Argument(..., help="The feed's URL, id or name."),
) -> None:
    """Remove a feed (its inbox entries stay)."""
    from pipeline.feeds.sources import remove_feed

    settings = get_settings()
    removed = remove_feed(get_engine(), feed, root=settings.root)
    console.print(f"Removed feed {removed.label}: {removed.url}", markup=False, soft_wrap=True)


def _outcome_line(o: FeedOutcome) -> str:
    if o.status == "ok":
        return f"{o.feed.label}: {o.added} new, {o.duplicates} duplicate(s) of {o.entries}"
    if o.status == "not_modified":
        return f"{o.feed.label}: not modified"
    if o.status == "empty":
        return f"{o.feed.label}: no entries"
    return f"{o.feed.label}: {o.error}"


@feeds_app.command("fetch")
def feeds_fetch(
    feeds: list[str] = typer.Argument(None, help="Only these feeds (URL or name); default all."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Fetch every feed into the inbox. A failing feed is reported and the rest go on;
    exit code 1 when any feed failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pipeline.feeds.refresh import refresh_feeds
    from pipeline.feeds.sources import list_feeds, sync_config_feeds

    settings = get_settings()
    engine = get_engine()
    sync_config_feeds(settings, engine)
    total = len([f for f in list_feeds(engine) if not feeds or f.url in feeds or f.name in feeds])
    show = not as_json and err_console.is_terminal
    with Progress(
        TextColumn("Fetching feeds"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        disable=not show,
    ) as progress:
        task = progress.add_task("fetch", total=total)

        def fetched(_result: FetchResult) -> None:
            progress.advance(task)

        outcomes = refresh_feeds(
            settings, engine, only=feeds or (), clock=get_clock(), on_fetched=fetched
        )
    failed = [o for o in outcomes if o.status == "error"]
    if as_json:
        print_json(
            [
                {
                    "url": o.feed.url,
                    "name": o.feed.name,
                    "status": o.status,
                    "entries": o.entries,
                    "added": o.added,
                    "duplicates": o.duplicates,
                    "warning": o.warning or None,
                    "error": o.error or None,
                }
                for o in outcomes
            ]
        )
    else:
        if not outcomes:
            console.print("No feeds yet. Add one with: newsletter feeds add URL")
        for o in outcomes:
            if o.status == "error":
                err_console.print(f"Failed: {_outcome_line(o)}", markup=False, soft_wrap=True)
                continue
            console.print(_outcome_line(o), markup=False, soft_wrap=True)
            if o.warning:
                err_console.print(
                    f"Warning: {o.feed.label}: {o.warning}", markup=False, soft_wrap=True
                )
        if outcomes:
            added = sum(o.added for o in outcomes)
            console.print(
                f"{len(outcomes)} feed(s) fetched: {added} new entr{'y' if added == 1 else 'ies'},"
                f" {len(failed)} failed.",
                soft_wrap=True,
            )
    if failed:
        raise typer.Exit(code=1)


@inbox_app.command("list")
def inbox_list(
    since: str = typer.Option("", "--since", help="Only entries from the last 30m, 12h, 7d, 2w."),
    tag: list[str] = typer.Option(
        [], "--tag", metavar="<tag>", help="Only entries with this tag (repeatable)."
    ),
    unused: bool = typer.Option(False, "--unused", help="Only entries not used in an issue yet."),
    limit: int = typer.Option(100, "--limit", help="At most this many entries."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List inbox entries, newest first."""
    from pipeline.cli.tables import Column, fit_table
    from pipeline.feeds.draft import parse_since
    from pipeline.feeds.inbox import list_entries

    delta: timedelta | None = parse_since(since) if since else None
    now = get_clock().now()
    entries = list_entries(
        get_engine(),
        since=now - delta if delta is not None else None,
        tags=tag,
        unused_only=unused,
        limit=limit,
    )
    if as_json:
        print_json(
            [
                {
                    "id": e.id,
                    "title": e.title,
                    "link": e.link,
                    "author": e.author,
                    "published_at": e.published_at.isoformat() if e.published_at else None,
                    "source": e.source_name,
                    "tags": e.tags,
                    "image": e.image_url,
                    "image_alt": e.image_alt,
                    "summary_html": e.summary_html,
                    "content_html": e.content_html,
                    "used_in": e.used_in,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        console.print("The inbox has no matching entries. Fetch feeds with: newsletter feeds fetch")
        return
    columns = [
        Column("Id", justify="right"),
        Column("Published"),
        Column("Title", flexible=True),
        Column("Source", flexible=True),
        Column("Tags", flexible=True),
        Column("Used in", flexible=True),
    ]
    rows = [
        [
            str(e.id),
            _when(e.published_at),
            e.title,
            e.source_name,
            ", ".join(e.tags),
            e.used_in or "",
        ]
        for e in entries
    ]
    console.print(fit_table(columns, rows, title="Inbox"))


@digest_app.command("run", short_help="Draft the digest from new inbox entries (for cron).")
def digest_run(
    force: bool = typer.Option(
        False, "--force", help="Run even when the digest is off or today is not a digest day."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Draft the digest from new inbox entries (for cron); schedule it if auto_schedule."""
    from pipeline.scheduling.digest import run_digest

    report = run_digest(get_settings(), get_engine(), clock=get_clock(), force=force)
    if as_json:
        print_json(
            {
                "status": report.status,
                "message": report.message,
                "slug": report.slug or None,
                "entries": report.entries,
                "send_at": report.send_at.isoformat() if report.send_at else None,
                "problems": report.problems,
            }
        )
    else:
        label = {"skipped": "Skipped", "needs_editor": "Needs the editor"}.get(report.status, "")
        text = f"{label}: {report.message}" if label else report.message
        console.print(text, markup=False, soft_wrap=True)
        for problem in report.problems:
            err_console.print(f"  {problem}", markup=False, soft_wrap=True)
    if report.status == "needs_editor":
        raise typer.Exit(code=1)
