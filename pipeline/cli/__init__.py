"""Command-line interface (Typer). ``newsletter --help`` lists the command groups."""

from __future__ import annotations

import os
import sys

# Importing the command modules registers their commands on the apps.
from pipeline.cli import (  # noqa: F401
    audience,
    auditlog,
    bounces,
    dbcmd,
    feeds,
    issue,
    lists,
    project,
    review,
    schedule,
    sending,
    stats,
    subscribers,
    tokens,
    users,
    web,
)
from pipeline.cli.app import app, for_args, one_shot


def main() -> None:
    """Entry point of the ``newsletter`` console script."""
    # pydantic looks for plugins in the metadata of every installed package the first time
    # a model is built (about 0.1 s, a third of a command's start); the settings use none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    one_shot()  # the process ends with the command
    for_args(app, sys.argv[1:])(prog_name="newsletter")


__all__ = ["app", "for_args", "main"]
