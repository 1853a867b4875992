"""Commands of the reports (the figures come from ``pipeline.tracking.stats``).

newsletter issue stats SLUG [--json] [--chart FILE]
newsletter stats [--issues N] [--weeks N] [--json] [--chart FILE]
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipeline.cli.app import JSON_OPTION, app, console, get_clock, get_engine, issue_app, print_json

if TYPE_CHECKING:  # the stages and rich are imported by the commands (fast --help)
    from rich.table import Table

    from pipeline.tracking.stats import EditionStats

CHART_OPTION = typer.Option(
    None, "--chart", help="Also write a chart to FILE (.svg or .png).", metavar="FILE"
)


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _summary(result: EditionStats) -> Table:
    from rich.markup import escape
    from rich.table import Table

    rates = result.rates
    table = Table(title=escape(f"{result.slug}: {result.subject} ({result.status})"))
    table.add_column("")
    table.add_column("People", justify="right")
    table.add_column("Rate", justify="right")
    table.add_column("Machines", justify="right")
    table.add_row("Sent", str(result.sent), "", "")
    table.add_row("Delivered", str(result.delivered), _pct(rates["delivered"]), "")
    table.add_row(
        "Opens (unique)", str(result.opens), _pct(rates["opens"]), str(result.machine_opens)
    )
    table.add_row(
        "Clicks (unique)", str(result.clicks), _pct(rates["clicks"]), str(result.machine_clicks)
    )
    table.add_row("Click-to-open", "", _pct(rates["click_to_open"]), "")
    table.add_row("Bounces", str(result.bounces), _pct(rates["bounces"]), "")
    table.add_row("Complaints", str(result.complaints), _pct(rates["complaints"]), "")
    table.add_row("Unsubscribes", str(result.unsubscribes), _pct(rates["unsubscribes"]), "")
    return table


def _links(result: EditionStats) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Links (people: unique human clicks)")
    table.add_column("#", justify="right")
    table.add_column("Link", overflow="fold")  # a long address continues, never cut
    table.add_column("People", justify="right")
    table.add_column("Clicks", justify="right")
    table.add_column("Machines", justify="right")
    for link in result.links:
        if link.kind == "honeypot":
            label = "(hidden scanner trap)"
        else:
            label = _short(link.text, 30) + "\n" + link.url if link.text else link.url
        table.add_row(
            str(link.index),
            escape(label),
            str(link.unique_clicks),
            str(link.clicks),
            str(link.machine_clicks),
        )
    return table


@issue_app.command("stats", short_help="A sent issue's opens, clicks, bounces and unsubscribes.")
def issue_stats(
    slug: str = typer.Argument(..., help="The issue's folder name (its slug)."),
    json_out: bool = JSON_OPTION,
    chart: Path | None = CHART_OPTION,
) -> None:
    """Delivered, human and machine opens and clicks, bounces, complaints, unsubscribes and
    clicks per link of a sent issue."""
    from pipeline.sending.abtest import ab_state
    from pipeline.sending.editions import get_edition
    from pipeline.tracking.stats import edition_stats, edition_timeline

    engine = get_engine()
    edition = get_edition(engine, slug)
    result = edition_stats(engine, edition.id)
    ab = ab_state(engine, edition)
    if chart is not None:
        from pipeline.tracking.charts import write_edition_chart

        write_edition_chart(chart, result, edition_timeline(engine, edition.id))
    if json_out:
        data = result.as_dict()
        if ab is not None:
            data["ab_test"] = ab.as_dict()
        print_json(data)
        return
    console.print(_summary(result))
    if ab is not None:
        from pipeline.cli.sending import print_ab_test

        print_ab_test(ab)
    if result.links:
        console.print(_links(result))
    base = "delivered" if result.base == "delivered" else "sent (no delivery events yet)"
    console.print(
        f"Rates are shares of messages {base}; a click counts as an open. Machines (privacy "
        f"proxies, prefetches, link scanners) are left out of the people columns. Human "
        f"events: {result.total_opens} opens, {result.total_clicks} clicks.",
        markup=False,
        soft_wrap=True,
    )
    if chart is not None:
        console.print(f"Chart written to {chart}", markup=False, soft_wrap=True)


@app.command("stats", short_help="Compare recent issues; the list's growth per week.")
def newsletter_stats(
    issues: int = typer.Option(
        10, "--issues", min=1, max=100, metavar="<int>", help="Recent issues to compare."
    ),
    weeks: int = typer.Option(
        12, "--weeks", min=1, max=260, metavar="<int>", help="Weeks of list growth."
    ),
    json_out: bool = JSON_OPTION,
    chart: Path | None = CHART_OPTION,
) -> None:
    """Compare recent issues (one row each) and show the list's growth per week."""
    from rich.table import Table

    from pipeline.tracking.stats import list_growth, recent_editions

    engine = get_engine()
    recent = recent_editions(engine, limit=issues)
    growth = list_growth(engine, weeks=weeks, now=get_clock().now())
    if chart is not None:
        from pipeline.tracking.charts import write_newsletter_chart

        write_newsletter_chart(chart, recent, growth)
    if json_out:
        print_json(
            {
                "issues": [r.as_dict() for r in recent],
                "growth": [g.__dict__ for g in growth],
            }
        )
        return
    table = Table(title="Recent issues (people only)")
    for name, justify in (
        ("Issue", "left"),
        ("Sent", "right"),
        ("Opens", "right"),
        ("Clicks", "right"),
        ("CTOR", "right"),
        ("Unsub", "right"),
    ):
        # a long slug continues on the next line rather than losing its end
        overflow = "fold" if name == "Issue" else "ellipsis"
        table.add_column(name, justify=justify, overflow=overflow)  # type: ignore[arg-type]
    for r in recent:
        table.add_row(
            r.slug,
            str(r.sent),
            _pct(r.rates["opens"]),
            _pct(r.rates["clicks"]),
            _pct(r.rates["click_to_open"]),
            str(r.unsubscribes),
        )
    console.print(table)
    weekly = Table(title="List growth per week")
    for name in ("Week of", "Confirmed", "Unsubscribed", "Bounced", "Net"):
        weekly.add_column(name, justify="left" if name == "Week of" else "right")
    for g in growth:
        weekly.add_row(g.week, str(g.confirmed), str(g.unsubscribed), str(g.bounced), f"{g.net:+d}")
    console.print(weekly)
    if chart is not None:
        console.print(f"Chart written to {chart}", markup=False, soft_wrap=True)
