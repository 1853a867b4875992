"""Commands start at once: what ``newsletter --help``, ``issue list`` and ``issue build`` import.

Counted, not timed (timings live in bench/bench_startup.py): each command runs in a fresh
interpreter that then reports the modules it loaded. A command module that imports a stage,
SQLAlchemy, pydantic or rich at its top fails here with the names of the newcomers; import
them inside the command that uses them (see pipeline/cli/app.py). ``issue list`` of a
current database reads it without SQLAlchemy (pipeline/store/reader.py): a module on its
path (scheduling.overview, editorial.states, content, render.checkcache, store.db) that
imports SQLAlchemy, or any other package, at its top fails here too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app, for_args

# The interpreter's own modules plus typer (and click inside it) come to about 200.
HELP_MODULE_BUDGET = 230
# `issue list` of a current database adds pydantic (the settings), yaml (front matter) and
# rich (the table): about 395 (SQLAlchemy alone would add 90 more, as it did before).
LIST_MODULE_BUDGET = 420
#: All that `issue list` of a current database with unchanged drafts may import.
LIST_PACKAGES = {
    "typer",
    "shellingham",
    "annotated_doc",
    "pipeline",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
    "yaml",
    "rich",
}

_PROBE = """
import json, sys
sys.argv = ["newsletter", *json.loads(sys.argv[1])]
from pipeline.cli import main
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""

SLUG = "2026-12-01-microneedling"


def _modules(args: list[str], cwd: Path) -> tuple[list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    marker = done.stderr.rindex("\nMODULES ")
    return json.loads(done.stderr[marker + len("\nMODULES ") :]), done.stdout


def _third_party(modules: list[str]) -> set[str]:
    tops = {m.split(".")[0] for m in modules}
    return {
        t
        for t in tops
        if t not in sys.stdlib_module_names
        and not t.startswith(("__editable__", "_distutils_hack", "_cython"))
        and t not in ("__main__", "cython_runtime")
        and not t.startswith("_sysconfigdata")
    }


#: What a command that does not need them must not pay for (named, for a clear failure).
HEAVY = {
    "sqlalchemy",
    "alembic",
    "pydantic",
    "rich",
    "jinja2",
    "mjml",
    "markdown_it",
    "httpx",
    "bs4",
    "feedparser",
    "dkim",
    "sendgrid",
    "aiosmtplib",
    "fastapi",
    "starlette",
    "PIL",
}


def test_help_loads_typer_and_the_command_modules_only(project_dir: Path) -> None:
    modules, out = _modules(["--help"], project_dir)
    assert "issue" in out and "subscribers" in out  # the help really printed
    assert not HEAVY & _third_party(modules), "newsletter --help imports " + ", ".join(
        sorted(HEAVY & _third_party(modules))
    )
    assert _third_party(modules) <= {"typer", "shellingham", "annotated_doc", "pipeline"}
    ours = {m for m in modules if m.startswith("pipeline.") and not m.startswith("pipeline.cli")}
    assert ours <= {
        "pipeline.errors",
        "pipeline.clock",
        "pipeline.subscribers",
        "pipeline.subscribers.formats",  # the import formats named in a command's help
        "pipeline.subscribers.tagnames",
        "pipeline.csvcells",  # formats read our own formula-escaped exports back (no imports)
    }
    assert len(modules) <= HELP_MODULE_BUDGET, (
        f"newsletter --help loads {len(modules)} modules (budget {HELP_MODULE_BUDGET})"
    )


def test_issue_list_needs_no_feeds_or_transports(project_dir: Path) -> None:
    """`issue list` shows each issue's state (issue 10): the editions in the database, and
    a check of each draft (the renderer); it never loads feeds or transports."""
    modules, out = _modules(["issue", "list"], project_dir)
    assert SLUG in out
    # (alembic: this first listing creates the database)
    heavy = HEAVY - {"sqlalchemy", "alembic", "pydantic", "rich", "jinja2", "mjml", "markdown_it"}
    assert not heavy & _third_party(modules), sorted(heavy & _third_party(modules))


def test_issue_list_of_unchanged_drafts_does_not_render(project_dir: Path) -> None:
    """The draft's check count is remembered (pipeline.render.checkcache): a second listing
    of unchanged issues loads neither Jinja2 nor MJML. Its database is current, so it is
    read through sqlite3 alone (pipeline.store.reader): no SQLAlchemy, no Alembic."""
    first, _ = _modules(["issue", "list"], project_dir)
    assert {"jinja2", "mjml"} <= _third_party(first)  # the first listing checked the draft
    assert {"sqlalchemy", "alembic"} <= _third_party(first)  # ... and created the database
    again, out = _modules(["issue", "list"], project_dir)
    assert SLUG in out and "draft" in out
    # a current database is recognised by its revision alone (store.db.HEAD): no alembic
    loaded = _third_party(again)
    heavy = (HEAVY - {"pydantic", "rich"}) & loaded
    assert not heavy, "issue list imports " + ", ".join(sorted(heavy))
    assert loaded <= LIST_PACKAGES, "issue list imports " + ", ".join(
        sorted(loaded - LIST_PACKAGES)
    )
    assert not any(m.startswith("pipeline.render.build") for m in again)
    assert not any(
        m.startswith(("pipeline.store.tables", "pipeline.sending", "pipeline.feeds")) for m in again
    )
    assert len(again) <= LIST_MODULE_BUDGET, (
        f"newsletter issue list loads {len(again)} modules (budget {LIST_MODULE_BUDGET})"
    )
    as_json, out = _modules(["issue", "list", "--json"], project_dir)
    assert json.loads(out)[0]["slug"] == SLUG
    assert "rich" not in _third_party(as_json)  # --json prints no table


def test_issue_build_pays_only_for_rendering(project_dir: Path) -> None:
    # (issue check also compares with recently sent editions: it may open the database)
    modules, out = _modules(["issue", "build", SLUG], project_dir)
    assert SLUG in out or "problems" in out or "error" in out
    loaded = _third_party(modules)
    assert {"jinja2", "mjml"} <= loaded  # it did render
    assert not (HEAVY - {"pydantic", "rich", "jinja2", "mjml", "markdown_it"}) & loaded
    assert not any(
        m.startswith(("pipeline.feeds", "pipeline.sending", "pipeline.web")) for m in modules
    )


@pytest.mark.parametrize(
    "args",
    [
        ["issue"],
        ["issue", "--help"],
        ["issue", "lst"],
        ["issue", "list", "--bad"],
        ["issue", "list", "--help"],
        ["db", "upgrade", "--help"],
    ],
)
def test_a_group_runs_alone_and_answers_as_the_whole_app(args: list[str]) -> None:
    """`newsletter GROUP ...` builds the click commands of that group only (Typer builds
    every command before parsing): the same help, errors and exit codes as the whole app."""
    alone = for_args(app, args)
    assert [info.name for info in alone.registered_groups] == [args[0]]
    assert alone.registered_commands == [] and len(app.registered_groups) > 1
    ours, whole = CliRunner().invoke(alone, args), CliRunner().invoke(app, args)
    assert (ours.exit_code, ours.stdout, ours.stderr) == (
        whole.exit_code,
        whole.stdout,
        whole.stderr,
    )


@pytest.mark.parametrize(
    "args", [[], ["--help"], ["--config", "x.toml", "issue", "list"], ["send-due"], ["nope"]]
)
def test_anything_else_runs_the_whole_app(args: list[str]) -> None:
    assert for_args(app, args) is app


def test_shell_completion_gets_the_whole_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_NEWSLETTER_COMPLETE", "bash_complete")
    assert for_args(app, ["issue", "list"]) is app
