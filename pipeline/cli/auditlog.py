"""``newsletter audit``: the newest entries of the audit log (``pipeline.accounts.audit``):
who did what, on what, when, through the studio, the API or the users/tokens commands."""

from __future__ import annotations

import typer

from pipeline.cli.app import JSON_OPTION, app, console, get_engine, get_settings, print_json


@app.command("audit", short_help="Show the audit log, newest first.")
def audit_cmd(
    limit: int = typer.Option(
        50, "--limit", min=1, max=10_000, metavar="<int>", help="How many entries."
    ),
    actor: str | None = typer.Option(
        None, "--actor", help="Only this actor: an address, token:NAME, or cli."
    ),
    action: str | None = typer.Option(
        None, "--action", help="Only this action, e.g. login.failed or issue.schedule."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the audit log, newest first: sign-ins, and every change made in the studio,
    through the API or by 'users' and 'tokens'."""
    from pipeline.accounts.audit import recent

    entries = recent(get_engine(), limit, actor=actor, action=action)
    if as_json:
        print_json(
            [
                {
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "detail": e.detail,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        console.print("The audit log has no entries yet.")
        return
    from pipeline.cli.tables import Column, fit_table

    tz = get_settings().newsletter.tz
    columns = [
        Column("when"),
        Column("who", flexible=True),
        Column("action"),
        Column("on", flexible=True),
    ]
    rows = [
        [e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.target]
        for e in entries
    ]
    console.print(fit_table(columns, rows, title=f"Audit log (times in {tz})"))
