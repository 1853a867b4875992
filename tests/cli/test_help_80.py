"""`newsletter --help`, each group's and each command's, read at 80 columns: nothing wider,
no command's summary cut short with "...", no option shown as a Python type."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from pipeline.cli import app


def _help(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def _commands() -> list[tuple[tuple[str, ...], bool]]:
    """Every group and command: (its path, whether it is a group)."""
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="newsletter")
    found: list[tuple[tuple[str, ...], bool]] = []

    def walk(group: object, path: tuple[str, ...]) -> None:
        for name in group.list_commands(ctx):  # type: ignore[attr-defined]
            command = group.get_command(ctx, name)  # type: ignore[attr-defined]
            is_group = hasattr(command, "list_commands")
            found.append(((*path, name), is_group))
            if is_group:
                walk(command, (*path, name))

    walk(root, ())
    return found


def test_every_help_fits_80_columns_and_no_summary_is_cut() -> None:
    commands = _commands()
    assert len(commands) > 50
    groups = [()] + [path for path, is_group in commands if is_group]
    for path in groups:
        text = _help(*path)
        listing = text.split("Commands:", 1)[1].splitlines()
        cut = [line for line in listing if line.rstrip().endswith("...")]
        assert cut == [], f"newsletter {' '.join(path)} --help cuts: {cut}"
    for path, _ in commands:
        text = _help(*path)
        wide = [line for line in text.splitlines() if len(line) > 80]
        assert wide == [], f"newsletter {' '.join(path)} --help: {wide}"
        options = text.split("Options:", 1)[-1]
        assert not re.search(r"<(list\[|int range|float range)", options), (path, options)


def test_the_listing_names_the_new_commands() -> None:
    users = _help("users")
    assert re.search(r"^  enable\s+Let a disabled account sign in again\.$", users, re.M)
    assert re.search(r"^  -l, --list <slug>\s", _help("subscribers", "add"), re.M)
