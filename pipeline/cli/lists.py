"""`newsletter lists create|list|show`.

newsletter.toml is the source of truth for lists: every command first copies its lists into
the database (``sync_lists``). ``lists create`` adds a list to the database only, and says
what to add to newsletter.toml to keep it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

from pipeline.cli.app import JSON_OPTION, console, get_engine, get_settings, lists_app, print_json

if TYPE_CHECKING:
    from pipeline.subscribers.lists import ListSummary


def _synced() -> None:
    from pipeline.subscribers.lists import sync_lists

    sync_lists(get_engine(), get_settings())


def _as_dict(item: ListSummary) -> dict[str, object]:
    data = asdict(item)
    data["total"] = item.total
    return data


@lists_app.command(
    "create",
    short_help="Create a list in the database (keep it in newsletter.toml).",
)
def create(
    slug: str = typer.Argument(..., help="Short name used in issues and imports, e.g. 'offers'."),
    name: str = typer.Option("", "--name", help="Name shown to subscribers (default: the slug)."),
    description: str = typer.Option("", "--description", help="One line shown on signup pages."),
    double_opt_in: bool = typer.Option(
        True, "--double-opt-in/--single-opt-in", help="Web signups must confirm by email."
    ),
) -> None:
    """Create a list in the database (add it to newsletter.toml to keep it)."""
    from pipeline.subscribers.lists import create_list

    _synced()
    create_list(get_engine(), slug, name or slug, description, double_opt_in)
    console.print(f"List '{slug}' created. To keep it, add it to newsletter.toml:")
    console.print(
        f'\n[[lists]]\nslug = "{slug}"\nname = "{name or slug}"\n'
        f'description = "{description}"\ndouble_opt_in = {str(double_opt_in).lower()}\n',
        markup=False,
    )


@lists_app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """Show every list with its subscriptions by status."""

    from pipeline.subscribers.lists import list_summaries

    _synced()
    items = list_summaries(get_engine(), get_settings())
    if as_json:
        print_json([_as_dict(i) for i in items])
        return
    from pipeline.cli.tables import Column, fit_table

    columns = [
        Column("slug"),
        Column("name", flexible=True),
        Column("opt-in"),
        Column("conf.", justify="right"),
        Column("unconf.", justify="right"),
        Column("unsub.", justify="right"),
        Column("in toml"),
    ]
    rows = [
        [
            item.slug,
            item.name,
            "double" if item.double_opt_in else "single",
            f"{item.counts['confirmed']:,}",
            f"{item.counts['unconfirmed']:,}",
            f"{item.counts['unsubscribed']:,}",
            "yes" if item.in_config else "no",
        ]
        for item in items
    ]
    console.print(fit_table(columns, rows, title="Lists"))


@lists_app.command("show")
def show(
    slug: str = typer.Argument(..., help="The list's slug."), as_json: bool = JSON_OPTION
) -> None:
    """Show one list: description, opt-in, subscriptions by status."""
    from rich.markup import escape
    from rich.table import Table

    from pipeline.subscribers.lists import list_summary

    _synced()
    item = list_summary(get_engine(), slug, get_settings())
    if as_json:
        print_json(_as_dict(item))
        return
    table = Table(title=f"List {item.slug}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    table.add_row("name", escape(item.name))
    table.add_row("description", escape(item.description or "-"))
    table.add_row("opt-in", "double" if item.double_opt_in else "single")
    table.add_row("in newsletter.toml", "yes" if item.in_config else "no")
    for status, count in item.counts.items():
        table.add_row(status, f"{count:,}")
    table.add_row("suppressed (of those)", f"{item.suppressed:,}")
    console.print(table)
