"""The Typer applications and the few helpers every command group shares.

This package is the only place that prints. A ``NewsletterError`` raised below it becomes
``Error: <message>`` on stderr and exit code 1; any other exception is a bug and keeps its
traceback.

Commands start at once: a command module imports only typer and this module at the top;
the stages (and SQLAlchemy, pydantic, Jinja, rich) are imported inside the commands that
use them, so ``newsletter --help`` loads none of them and ``issue list`` only what it
needs. ``tests/cli/test_startup.py`` counts the modules to keep it so.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

import typer
from typer.core import TyperGroup

from pipeline.clock import Clock, clock_from_env
from pipeline.errors import NewsletterError

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

    from pipeline.config import Settings
    from pipeline.store.reader import Reader


class _LazyConsole:
    """A rich ``Console`` made on first use (importing rich costs more than a command that
    prints one line)."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def _real(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    # `with console:` (rich's Live, under every progress bar) looks these up on the type,
    # never through __getattr__: without them a progress bar on a terminal is a TypeError.
    def __enter__(self) -> Console:
        return self._real().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._real().__exit__(*exc)


console = cast("Console", _LazyConsole(stderr=False))
err_console = cast("Console", _LazyConsole(stderr=True))


class NewsletterGroup(TyperGroup):
    """The root command group: a NewsletterError anywhere below becomes
    ``Error: <message>`` on stderr and exit code 1, with no traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except NewsletterError as exc:
            err_console.print(f"Error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(code=1) from None


def _typer(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


app = typer.Typer(
    cls=NewsletterGroup,
    help="Newsletter-as-code: write issues as Markdown, render once, send to your lists.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
issue_app = _typer("Write, build, check, preview, schedule and send issues.")
subscribers_app = _typer("Add, import, export, unsubscribe and erase subscribers.")
lists_app = _typer("Create and inspect subscriber lists.")
db_app = _typer("Create or upgrade the database.")
feeds_app = _typer("RSS and Atom sources that fill the article inbox.")
inbox_app = _typer("Articles fetched from feeds, waiting to be used in an issue.")
digest_app = _typer("The recurring digest drafted from new inbox entries.")
bounces_app = _typer("The bounce mailbox: bounces, and unsubscribes sent by mail.")
users_app = _typer("Studio accounts: add, list, disable, enable, reset password.")
tokens_app = _typer("Tokens for the HTTP API (/api/v1): create, list, revoke.")

app.add_typer(issue_app, name="issue")
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(lists_app, name="lists")
app.add_typer(db_app, name="db")
app.add_typer(feeds_app, name="feeds")
app.add_typer(inbox_app, name="inbox")
app.add_typer(digest_app, name="digest")
app.add_typer(bounces_app, name="bounces")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


def for_args(root: typer.Typer, args: list[str]) -> typer.Typer:
    """The application to run for ``args``: for ``newsletter GROUP ...`` the root with that
    group alone, else all of it. Typer makes a click command of every command before it
    parses anything (about 70, some 0.01-0.02 s); ``issue list`` needs the issue group's.
    The root's callback (--config) and the group are the same objects, so the command, its
    help and its errors are the same too (tests/cli/test_startup.py compares them)."""
    if not args or any(name.endswith("_COMPLETE") for name in os.environ):
        return root  # the root's help, or shell completion (it offers every command)
    group = [info for info in root.registered_groups if info.name == args[0]]
    if not group:
        return root  # an option first (--config, --help), a root command, a typo
    alone = copy.copy(root)
    alone.registered_groups = group
    alone.registered_commands = []
    return alone


_state: dict[str, Any] = {"config": None, "one_shot": False}


def one_shot() -> None:
    """This process ends when its command does (the ``newsletter`` console script, not a
    test's or a server's process that runs commands in turn)."""
    _state["one_shot"] = True


def before_long_work() -> None:
    """Before a send: in a process that ends with its command, put everything made so far
    out of the cycle collector's reach (``pipeline.sending.workers.freeze_heap``). Its full
    passes during a 20,000-message send then walk only what the send makes (they took 70
    to 120 ms, the main thread stopped), and the process exits 0.1-0.2 s sooner."""
    if _state["one_shot"]:
        from pipeline.sending.workers import freeze_heap

        freeze_heap()


@app.callback()
def _root(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help=(
            "Path to newsletter.toml (default: $NEWSLETTER_CONFIG, else the nearest "
            "newsletter.toml in this folder or its parents)."
        ),
        envvar="NEWSLETTER_CONFIG",
    ),
) -> None:
    """Newsletter-as-code: write issues as Markdown, render once, send to your lists."""
    _state["config"] = config
    get_settings.cache_clear()
    get_engine.cache_clear()


@cache
def get_settings() -> Settings:
    """Settings for this invocation, loaded once."""
    from pipeline.config import load_settings, require_config

    return load_settings(_state["config"] or require_config())


@cache
def get_engine() -> Engine:
    """The database engine for this invocation; creates or upgrades the schema first."""
    from pipeline.store.db import open_database

    return open_database(get_settings().database_url)


def get_reader() -> Reader:
    """Read-only access for listings: a current SQLite database through sqlite3 alone (no
    SQLAlchemy to import), anything else through ``get_engine`` (which creates or upgrades
    the schema first)."""
    from pipeline.store.reader import EngineReader, open_current

    return open_current(get_settings().database_url) or EngineReader(get_engine())


def get_clock() -> Clock:
    """The clock for this invocation: the system's, or frozen at $NEWSLETTER_NOW (an
    ISO-8601 time; tests that start real processes use it, so nothing waits for time)."""
    return clock_from_env(os.environ.get("NEWSLETTER_NOW"))


def print_json(data: Any) -> None:
    """Machine-readable output for --json: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def open_output(path: Path) -> TextIO:
    """``path`` opened to write CSV (UTF-8, newline as written); a missing folder or a
    refused write is an error that names the file, not a traceback."""
    try:
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise NewsletterError(
            f"{path}: cannot write the file: {exc.strerror or exc}",
            fix="name a file in a folder that exists and that you can write to",
        ) from None


JSON_OPTION = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")
