"""Command-line interface (Typer). ``newsletter --help`` lists the command groups."""

from __future__ import annotations

# Importing the command modules registers their commands on the apps.
from pipeline.cli import (  # noqa: F401
    audience,
    bounces,
    dbcmd,
    feeds,
    issue,
    lists,
    project,
    schedule,
    sending,
    subscribers,
    web,
)
from pipeline.cli.app import app


def main() -> None:
    """Entry point of the ``newsletter`` console script."""
    app(prog_name="newsletter")


__all__ = ["app", "main"]
