"""`newsletter users ...` and `newsletter tokens ...`: passwords come from a prompt or
stdin, never an option; tokens are printed once."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from pipeline.accounts import audit
from pipeline.accounts.apitokens import account_for_token
from pipeline.accounts.users import authenticate
from pipeline.cli import app
from pipeline.errors import LoginError
from tests.cli.test_terminal import NEWSLETTER, _on_terminal
from tests.conftest import TEST_SECRET

Run = Callable[..., Result]


@pytest.fixture
def cli(project_dir: Path, db_url: str) -> Run:
    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(
            app,
            ["--config", str(project_dir / "newsletter.toml"), *args],
            env={"NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_DATABASE_URL": db_url},
            input=input,
        )

    return run


def test_add_list_disable_and_reset(cli: Run, engine: Engine) -> None:
    added = cli(
        "users", "add", "Ada Admin", "--email", "ada@example.com", "--role", "admin",
        "--password-stdin", input="first fine password\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Account for Ada Admin <ada@example.com> created (admin)" in added.stdout
    prompted = cli(
        "users", "add", "Edie", "--email", "edie@example.com", "--password-stdin",
        input="typed at the prompt\n",
    )  # fmt: skip
    assert prompted.exit_code == 0, prompted.output
    assert authenticate(engine, "edie@example.com", "typed at the prompt", "127.0.0.1").role == (
        "editor"
    )
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert listed == [
        {"name": "Ada Admin", "email": "ada@example.com", "role": "admin", "disabled": False},
        {"name": "Edie", "email": "edie@example.com", "role": "editor", "disabled": False},
    ]
    table = cli("users", "list").stdout
    assert "ada@example.com" in table and "active" in table
    reset = cli(
        "users", "reset-password", "ada@example.com", "--password-stdin", input="new one is long\n"
    )
    assert reset.exit_code == 0 and "sessions have ended" in reset.stdout
    assert authenticate(engine, "ada@example.com", "new one is long", "127.0.0.1")
    disabled = cli("users", "disable", "edie@example.com")
    assert disabled.exit_code == 0, disabled.output
    with pytest.raises(LoginError, match="disabled"):
        authenticate(engine, "edie@example.com", "typed at the prompt", "127.0.0.1")
    assert json.loads(cli("users", "list", "--json").stdout)[1]["disabled"] is True
    assert [e.action for e in audit.recent(engine, 10) if e.actor == "cli"][:2] == [
        "user.disable",
        "user.reset-password",
    ]


def test_enable_lets_a_disabled_account_sign_in_again(cli: Run, engine: Engine) -> None:
    added = cli(
        "users", "add", "Edie", "--email", "edie@example.com", "--password-stdin",
        input="typed at the prompt\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert cli("users", "disable", "edie@example.com").exit_code == 0
    enabled = cli("users", "enable", "Edie@Example.com")
    assert enabled.exit_code == 0, enabled.output
    assert enabled.stdout == "Account edie@example.com enabled; it can sign in again.\n"
    assert authenticate(engine, "edie@example.com", "typed at the prompt", "127.0.0.1")
    assert json.loads(cli("users", "list", "--json").stdout)[0]["disabled"] is False
    again = cli("users", "enable", "edie@example.com")
    assert again.exit_code == 0 and "was not disabled" in again.stdout
    assert [e.action for e in audit.recent(engine, 10) if e.actor == "cli"][:3] == [
        "user.enable",
        "user.enable",
        "user.disable",
    ]
    nobody = cli("users", "enable", "nobody@example.com")
    assert nobody.exit_code == 1 and "newsletter users list" in nobody.stderr


def test_mistakes_are_errors_that_say_how_to_fix_them(cli: Run) -> None:
    short = cli("users", "add", "Bo", "--email", "bo@example.com", "--password-stdin", input="x\n")
    assert short.exit_code == 1 and "too short" in short.stderr
    role = cli("users", "add", "Bo", "--email", "bo@example.com", "--role", "boss")
    assert role.exit_code == 1 and "use one of editor, approver, admin" in role.stderr
    nobody = cli("users", "disable", "nobody@example.com")
    assert nobody.exit_code == 1 and "newsletter users list" in nobody.stderr
    assert "--password " not in cli("users", "add", "--help").stdout  # never as an option


def test_tokens_create_list_revoke(cli: Run, engine: Engine) -> None:
    made = cli("tokens", "create", "--name", "shop-sync", "--role", "approver")
    assert made.exit_code == 0, made.output
    raw = made.stdout.strip()
    assert raw.startswith("nlt_") and "shown only now" in made.stderr
    assert account_for_token(engine, raw).role == "approver"
    [listed] = json.loads(cli("tokens", "list", "--json").stdout)
    assert listed["name"] == "shop-sync" and listed["revoked_at"] is None
    assert raw not in cli("tokens", "list").stdout
    assert cli("tokens", "revoke", "shop-sync").exit_code == 0
    assert json.loads(cli("tokens", "list", "--json").stdout)[0]["revoked_at"] is not None
    again = cli("tokens", "revoke", "shop-sync")
    assert again.exit_code == 1 and "newsletter tokens list" in again.stderr


def test_audit_shows_the_newest_entries_first(cli: Run) -> None:
    cli("tokens", "create", "--name", "ci")
    cli("tokens", "revoke", "ci")
    entries = json.loads(cli("audit", "--json").stdout)
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("cli", "token.revoke", "ci"),
        ("cli", "token.create", "ci"),
    ]
    only = json.loads(cli("audit", "--action", "token.create", "--json").stdout)
    assert [e["action"] for e in only] == ["token.create"]
    table = cli("audit").stdout
    assert "token.revoke" in table and "Audit log" in table
    assert json.loads(cli("audit", "--actor", "nobody", "--json").stdout) == []


def test_the_password_is_asked_twice_on_a_terminal(
    project_dir: Path, db_url: str, engine: Engine
) -> None:
    code, out = _on_terminal(
        ["users", "add", "Edie", "--email", "edie@example.com"],
        project_dir,
        db_url,
        typed=[("Password: ", "typed at the prompt"), ("confirmation: ", "typed at the prompt")],
    )
    assert code == 0, out
    assert "typed at the prompt" not in out  # not echoed
    assert "Warning" not in out
    assert authenticate(engine, "edie@example.com", "typed at the prompt", "127.0.0.1")


def test_without_a_terminal_the_error_names_password_stdin_and_nothing_is_echoed(
    project_dir: Path, db_url: str, cli: Run
) -> None:
    """cron, CI, a pipe: no terminal to ask on. One error line naming --password-stdin,
    before getpass would warn "Password input may be echoed"; no account."""
    env = {**os.environ, "NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_DATABASE_URL": db_url}
    for command in (["add", "Bo", "--email", "bo@example.com"], ["reset-password", "bo@x.org"]):
        if command[0] == "reset-password":
            cli("users", "add", "Bo", "--email", "bo@x.org", "--password-stdin", input="a" * 12)
        result = subprocess.run(
            [NEWSLETTER, "users", *command],
            cwd=project_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            start_new_session=True,  # no controlling terminal, as under cron
            timeout=120,
        )
        assert result.returncode == 1, result.stderr
        assert "Warning" not in result.stderr and "echoed" not in result.stderr
        assert result.stderr.startswith("Error: no terminal to type the password at")
        assert "--password-stdin" in result.stderr
    assert "bo@example.com" not in cli("users", "list").stdout
    # CliRunner's standard input is no terminal either
    piped = cli("users", "add", "Bo", "--email", "bo@example.com", input="x" * 12 + "\n")
    assert piped.exit_code == 1 and "--password-stdin" in piped.stderr
