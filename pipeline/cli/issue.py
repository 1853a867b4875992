"""Commands of the issue stage: new, build, check, preview, list."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    console,
    err_console,
    get_engine,
    get_reader,
    get_settings,
    issue_app,
    print_json,
)
from pipeline.errors import NewsletterError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pipeline.config import Settings
    from pipeline.render.build import Build
    from pipeline.render.checks import Finding


SLUG_ARG = typer.Argument(..., help="The issue's folder name under issues/.")


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} B"


def _database_engine(settings: Settings) -> Engine | None:
    """The database, when there is one (for the check against recently sent issues)."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    return get_engine()


def _print_findings(findings: list[Finding]) -> None:
    for finding in findings:
        label = "Error" if finding.level == "error" else "Warning"
        err_console.print(f"{label}: {finding}", markup=False, soft_wrap=True)


@issue_app.command("new", short_help="Create issues/SLUG/ with an issue.md and a first article.")
def new(
    slug: str = SLUG_ARG,
    subject: str = typer.Option("", "--subject", help="The subject line."),
    lists: list[str] = typer.Option(
        [],
        "--list",
        "-l",
        metavar="<slug>",
        help="A list to send to (repeatable); default: the first list.",
    ),
    from_feeds: bool = typer.Option(
        False, "--from-feeds", help="Draft the articles from unused feed inbox entries."
    ),
    since: str = typer.Option("7d", "--since", help="With --from-feeds: entries this recent."),
    tags: list[str] = typer.Option(
        [],
        "--tag",
        metavar="<tag>",
        help="With --from-feeds: only entries with this tag (repeatable).",
    ),
    limit: int = typer.Option(5, "--limit", help="With --from-feeds: at most this many."),
) -> None:
    """Create issues/SLUG/ with an issue.md and a first article to edit."""
    from pipeline.content.issues import display_path, new_issue

    settings = get_settings()
    if from_feeds:
        from pipeline.cli.app import get_clock
        from pipeline.feeds.draft import draft_issue_from_inbox, parse_since

        folder = draft_issue_from_inbox(
            settings,
            get_engine(),
            slug,
            since=parse_since(since),
            tags=list(tags),
            limit=limit,
            clock=get_clock(),
        )
    else:
        folder = new_issue(
            settings, slug, subject=subject, lists=list(lists) or None, sample_article=True
        )
    count = len(list((folder / "articles").glob("*.md")))
    console.print(
        f"Created {display_path(settings, folder)}/ ({count} article(s)).", soft_wrap=True
    )
    console.print(f"Edit it, then run: newsletter issue preview {slug}")


@issue_app.command("build", short_help="Render the issue to var/build/SLUG/.")
def build(
    slug: str = SLUG_ARG,
    force: bool = typer.Option(
        False, "--force", help="Write the files even when the checks find errors."
    ),
) -> None:
    """Render the issue to var/build/SLUG/ (email.html, email.txt, web.html)."""
    from rich.table import Table

    from pipeline.content.issues import display_path
    from pipeline.render.build import build_issue, write_build

    settings = get_settings()
    result = build_issue(settings, slug)
    _print_findings(result.findings)
    if result.errors and not force:
        err_console.print(
            f"Nothing written: {len(result.errors)} error(s) "
            f"(fix them, or use --force to look at a draft).",
            markup=False,
        )
        raise typer.Exit(1)
    files = write_build(settings, result)
    table = Table(title=f"Built {slug}", title_justify="left")
    table.add_column("file")
    table.add_column("size", justify="right")
    for path in files.values():
        table.add_row(display_path(settings, path), _size(path.stat().st_size))
    console.print(table)
    console.print(f"Content hash: {result.content_hash[:12]}")


def run_checks(settings: Settings, slug: str) -> tuple[list[Finding], Build | None]:
    """Every check; an issue that does not load or render is one error finding."""
    from pipeline.sending.editions import checked_findings

    return checked_findings(settings, _database_engine(settings), slug)


@issue_app.command("check")
def check(slug: str = SLUG_ARG, as_json: bool = JSON_OPTION) -> None:
    """Run every check before sending; errors exit 1."""
    settings = get_settings()
    findings, _ = run_checks(settings, slug)
    errors = [f for f in findings if f.level == "error"]
    if as_json:
        print_json(
            {
                "slug": slug,
                "ok": not errors,
                "errors": len(errors),
                "warnings": len(findings) - len(errors),
                "findings": [f.to_dict() for f in findings],
            }
        )
    else:
        _print_findings(findings)
        if not findings:
            console.print(f"{slug}: no problems found.")
        else:
            console.print(
                f"{slug}: {len(errors)} error(s), {len(findings) - len(errors)} warning(s)."
            )
    if errors:
        raise typer.Exit(1)


@issue_app.command("preview", short_help="Serve the build locally; rebuild it when a file changes.")
def preview(
    slug: str = SLUG_ARG,
    port: int = typer.Option(8800, "--port", help="Port on 127.0.0.1."),
    open_browser: bool = typer.Option(False, "--open", help="Open the preview in a browser."),
) -> None:
    """Serve the build on 127.0.0.1 and rebuild it whenever a file changes."""
    from pipeline.render.preview import (
        PreviewState,
        make_server,
        rebuild,
        watch_and_rebuild,
    )

    settings = get_settings()

    def report(result: Build | None, problem: str) -> None:
        if result is None:
            err_console.print(f"Error: {problem}", markup=False, soft_wrap=True)
            return
        _print_findings(result.findings)
        console.print(f"Built {slug} ({len(result.errors)} error(s)).")

    state = PreviewState()
    rebuild(settings, slug, state, report)
    try:
        server = make_server(settings, slug, port, state)
    except OSError as exc:
        raise NewsletterError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", fix="choose another --port"
        ) from None
    url = f"http://127.0.0.1:{port}/email.html"
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_and_rebuild, args=(settings, slug, state, report, stop), daemon=True
    )
    watcher.start()
    console.print(f"Previewing {slug} at {url} (web version: /web.html, text: /email.txt).")
    console.print("Rebuilding on every change; press Ctrl+C to stop.")
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()


@issue_app.command("list", short_help="List the issues, newest first, with where each stands.")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List the issue folders, newest first, with where each stands (draft, check errors,
    in review, approved, rejected, scheduled for when, sending with %, sent when, ...)."""
    from pipeline.scheduling.overview import issue_states

    settings = get_settings()
    states = issue_states(settings, get_reader())
    if as_json:
        print_json(
            [
                {
                    "slug": r.summary.slug,
                    "subject": r.summary.subject,
                    "articles": r.summary.articles,
                    "lists": list(r.summary.lists),
                    "send_at": r.summary.send_at.isoformat() if r.summary.send_at else None,
                    "state": r.state,
                    "state_detail": r.detail,
                    "review": r.review.as_dict() if r.review is not None else None,
                    "error": r.summary.error or None,
                }
                for r in states
            ]
        )
        return
    if not states:
        console.print("No issues yet. Create one with: newsletter issue new SLUG")
        return
    from pipeline.cli.tables import Column, fit_table  # rich: not for --json

    columns = [
        Column("issue"),
        Column("state"),
        Column("subject", flexible=True),
        Column("art.", justify="right"),
        Column("lists", flexible=True),
    ]
    rows = [
        [
            r.summary.slug,
            r.label,
            r.summary.subject or r.summary.error,
            str(r.summary.articles) if not r.summary.error else "",
            ", ".join(r.summary.lists),
        ]
        for r in states
    ]
    console.print(
        fit_table(columns, rows, title=f"Issues (times in {settings.newsletter.timezone})")
    )
