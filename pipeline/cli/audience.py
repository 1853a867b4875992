"""Tags, segments and list health: ``subscribers tag/untag/tags/segments/sunset``."""

from __future__ import annotations

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    console,
    get_clock,
    get_engine,
    get_settings,
    print_json,
    subscribers_app,
)


@subscribers_app.command("tag")
def tag(
    email: str = typer.Argument(..., help="The subscriber's address."),
    tags: list[str] = typer.Argument(..., help="One or more tags, e.g. vip oily-skin."),
) -> None:
    """Give a subscriber tags (segments select on them: tag "vip")."""
    from pipeline.subscribers.tags import tag_subscriber

    new = tag_subscriber(get_engine(), email, tags)
    console.print(
        f"Tagged {email}: {', '.join(new)}." if new else f"{email} already had those tags.",
        markup=False,
    )


@subscribers_app.command("untag")
def untag(
    email: str = typer.Argument(..., help="The subscriber's address."),
    tags: list[str] = typer.Argument(..., help="The tags to remove."),
) -> None:
    """Remove tags from a subscriber."""
    from pipeline.subscribers.tags import untag_subscriber

    gone = untag_subscriber(get_engine(), email, tags)
    console.print(
        f"Removed from {email}: {', '.join(gone)}." if gone else f"{email} had none of those tags.",
        markup=False,
    )


@subscribers_app.command("tags")
def tags_(as_json: bool = JSON_OPTION) -> None:
    """Every tag in use and how many subscribers have it."""
    from rich.markup import escape
    from rich.table import Table

    from pipeline.subscribers.tags import tag_counts

    counts = tag_counts(get_engine())
    if as_json:
        print_json([{"tag": t, "subscribers": n} for t, n in counts])
        return
    table = Table(title="Tags")
    table.add_column("tag")
    table.add_column("subscribers", justify="right")
    for t, n in counts:
        table.add_row(escape(t), f"{n:,}")
    console.print(table)


@subscribers_app.command(
    "segments", short_help="The segments of newsletter.toml and how many match each."
)
def segments(as_json: bool = JSON_OPTION) -> None:
    """The segments of newsletter.toml, each with how many active subscribers match."""
    from rich.markup import escape
    from rich.table import Table

    from pipeline.subscribers.audience import segment_counts

    rows = segment_counts(get_settings(), get_engine(), now=get_clock().now())
    if as_json:
        print_json([{"name": n, "count": c, "condition": cond} for n, c, cond in rows])
        return
    table = Table(title="Segments")
    table.add_column("name")
    table.add_column("count", justify="right")
    table.add_column("condition", overflow="fold")
    for name, n, cond in rows:
        table.add_row(escape(name), f"{n:,}", escape(cond))
    console.print(table)


@subscribers_app.command(
    "sunset", short_help="List or (--apply) unsubscribe people who no longer read."
)
def sunset(
    inactive: str = typer.Option(
        "180d", "--inactive", help="No human open or click for this long, e.g. 180d."
    ),
    min_issues: int | None = typer.Option(
        None,
        "--min-issues",
        help="Only people sent at least this many issues in that time "
        "(default: sunset.min_issues).",
    ),
    apply: bool = typer.Option(False, "--apply", help="Unsubscribe them (default: list only)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List (dry run) or, with --apply, unsubscribe people who no longer read the issues."""
    from rich.markup import escape
    from rich.table import Table

    from pipeline.subscribers.sunset import find_inactive, parse_period, sunset_inactive

    settings, engine, clock = get_settings(), get_engine(), get_clock()
    period = parse_period(inactive)
    issues = min_issues or settings.sunset.min_issues
    now = clock.now()
    found = find_inactive(engine, now=now, period=period, min_issues=issues)
    done = sunset_inactive(engine, found, now=now, period=period) if apply else 0
    if as_json:
        print_json(
            {"inactive": [p.__dict__ for p in found], "unsubscribed": done, "applied": apply}
        )
        return
    table = Table(title=f"No open or click in {inactive}, sent at least {issues} issue(s)")
    table.add_column("email")
    table.add_column("sent", justify="right")
    table.add_column("subscribed")
    for person in found[:50]:
        table.add_row(escape(person.email), str(person.sent), f"{person.created_at:%Y-%m-%d}")
    console.print(table)
    if len(found) > 50:
        console.print(f"(first 50 of {len(found):,})")
    if apply:
        console.print(f"Unsubscribed {done:,} inactive subscriber(s); reason recorded: sunset.")
    else:
        console.print(
            f"{len(found):,} would be unsubscribed. Try the re-engagement segment first "
            "(docs/audience.md), then run again with --apply."
        )
