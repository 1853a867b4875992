"""Accounts of the editors' studio and tokens of the HTTP API (``pipeline.accounts``).

newsletter users add NAME --email ADDRESS --role editor|approver|admin [--password-stdin]
newsletter users list [--json]
newsletter users disable EMAIL
newsletter users enable EMAIL
newsletter users reset-password EMAIL [--password-stdin]

A password is never an option (it would stay in the shell's history and in ``ps``): it is
asked for twice on the terminal, or read as the first line of standard input with
``--password-stdin`` (without a terminal, e.g. under cron, that option is the only way).
Every change is recorded in the audit log as done by ``cli``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    console,
    get_clock,
    get_engine,
    get_settings,
    print_json,
    users_app,
)

if TYPE_CHECKING:
    from pipeline.accounts.users import Account

PASSWORD_STDIN = typer.Option(
    False,
    "--password-stdin",
    help="Read the password from the first line of standard input instead of asking.",
)
ROLE_HELP = "editor (writes), approver (also approves), or admin (also manages accounts)."


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice (hidden) on a terminal.

    Without a terminal on standard input (cron, CI, a pipe) there is nobody to ask: the
    error says to use --password-stdin before getpass would warn that the password may be
    echoed and then read it from the pipe anyway."""
    from pipeline.errors import AccountError

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not _is_terminal(sys.stdin):
        raise AccountError(
            "no terminal to type the password at (standard input is not one)",
            fix="run the command in a terminal, or pass --password-stdin and give the "
            "password on the first line of standard input (e.g. from a password manager)",
        )
    try:
        value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    except typer.Abort:
        raise AccountError(
            "no password was typed (the terminal closed before the prompt got one)",
            fix="type it at the prompt, or pass --password-stdin and give it on the first "
            "line of standard input (e.g. from a password manager)",
        ) from None
    return value


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _as_dict(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "email": account.email,
        "role": account.role,
        "disabled": account.disabled,
    }


@users_app.command("add", short_help="Create a studio account (the password is asked for).")
def add(
    name: str = typer.Argument(..., help="The person's name, as shown in the studio."),
    email: str = typer.Option(..., "--email", help="The address they sign in with."),
    role: str = typer.Option("editor", "--role", help=ROLE_HELP),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Create a studio account (the password is asked for, never given as an option)."""
    from pipeline.accounts.users import add_user, check_role

    check_role(role)  # before asking for a password
    password = read_password(password_stdin)
    account = add_user(get_engine(), name, email, role, password, now=get_clock().now())
    base = get_settings().newsletter.base_url.rstrip("/")
    console.print(
        f"Account for {account.name} <{account.email}> created ({account.role}). "
        f"They sign in at {base}/admin/login.",
        markup=False,
    )


@users_app.command("list", short_help="Show every account, its role and whether it is disabled.")
def list_(as_json: bool = JSON_OPTION) -> None:
    """Show every account: name, address, role, and whether it is disabled."""
    from pipeline.accounts.users import list_users

    accounts = list_users(get_engine())
    if as_json:
        print_json([_as_dict(a) for a in accounts])
        return
    if not accounts:
        console.print("No accounts yet. Add one with: newsletter users add NAME --email ADDRESS")
        return
    from pipeline.cli.tables import Column, fit_table

    columns = [Column("name", flexible=True), Column("email", flexible=True), Column("role")]
    columns.append(Column("state"))
    rows = [[a.name, a.email, a.role, "disabled" if a.disabled else "active"] for a in accounts]
    console.print(fit_table(columns, rows, title="Studio accounts"))


@users_app.command("disable", short_help="Disable an account and end its open sessions.")
def disable(email: str = typer.Argument(..., help="The account's address.")) -> None:
    """Disable an account: it cannot sign in and its open sessions end at once."""
    from pipeline.accounts.users import disable_user

    account = disable_user(get_engine(), email, now=get_clock().now())
    console.print(f"Account {account.email} disabled; its sessions have ended.", markup=False)


@users_app.command("enable", short_help="Let a disabled account sign in again.")
def enable(email: str = typer.Argument(..., help="The account's address.")) -> None:
    """Let a disabled account sign in again, with the password it had."""
    from pipeline.accounts.users import enable_user, get_user

    was_disabled = get_user(get_engine(), email).disabled
    account = enable_user(get_engine(), email, now=get_clock().now())
    if was_disabled:
        console.print(f"Account {account.email} enabled; it can sign in again.", markup=False)
    else:
        console.print(f"Account {account.email} was not disabled; it still is not.", markup=False)


@users_app.command("reset-password")
def reset_password(
    email: str = typer.Argument(..., help="The account's address."),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Set a new password for an account; its open sessions end."""
    from pipeline.accounts.users import get_user
    from pipeline.accounts.users import reset_password as reset

    get_user(get_engine(), email)  # before asking for a password
    password = read_password(password_stdin)
    account = reset(get_engine(), email, password, now=get_clock().now())
    console.print(f"New password set for {account.email}; its sessions have ended.", markup=False)
