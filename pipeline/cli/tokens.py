"""Bearer tokens for the HTTP API (``pipeline.accounts.apitokens``).

newsletter tokens create --name NAME --role editor|approver|admin
newsletter tokens list [--json]
newsletter tokens revoke NAME

The token is printed once, by ``create``; the database keeps only its SHA-256 digest.
"""

from __future__ import annotations

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    console,
    err_console,
    get_clock,
    get_engine,
    print_json,
    tokens_app,
)


@tokens_app.command("create", short_help="Make an API token and print it once.")
def create(
    name: str = typer.Option(..., "--name", help="What uses the token, e.g. 'shop-sync'."),
    role: str = typer.Option(
        "editor", "--role", help="editor, approver or admin: what the token may do."
    ),
) -> None:
    """Make an API token and print it once (keep it in your program's secrets)."""
    from pipeline.accounts.apitokens import create_token

    raw = create_token(get_engine(), name, role, now=get_clock().now())
    err_console.print(
        f"Token '{name}' ({role}) created. It is shown only now; send it as "
        "'Authorization: Bearer <token>':",
        markup=False,
    )
    typer.echo(raw)


@tokens_app.command("list", short_help="Show every token (never the token itself).")
def list_(as_json: bool = JSON_OPTION) -> None:
    """Show every token: name, role, when made and last used, revoked or not (never the
    token itself)."""
    from pipeline.accounts.apitokens import list_tokens

    tokens = list_tokens(get_engine())
    if as_json:
        print_json(
            [
                {
                    "name": t.name,
                    "role": t.role,
                    "created_at": t.created_at.isoformat(),
                    "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                    "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                }
                for t in tokens
            ]
        )
        return
    if not tokens:
        console.print("No API tokens. Make one with: newsletter tokens create --name NAME")
        return
    from pipeline.cli.tables import Column, fit_table

    def when(value: object) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else "-"

    columns = [Column("name", flexible=True), Column("role"), Column("created")]
    columns += [Column("last used"), Column("state")]
    rows = [
        [
            t.name,
            t.role,
            when(t.created_at),
            when(t.last_used_at),
            "active" if t.active else f"revoked {when(t.revoked_at)}",
        ]
        for t in tokens
    ]
    console.print(fit_table(columns, rows, title="API tokens"))


@tokens_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="The token's name.")) -> None:
    """Stop a token from working, at once."""
    from pipeline.accounts.apitokens import revoke_token

    revoke_token(get_engine(), name, now=get_clock().now())
    console.print(f"Token '{name}' revoked.", markup=False)
