"""Accounts: adding, listing, disabling, enabling again, resetting, and signing in with its
limits on failures (per account and per IP, counted in the database, over the injected
time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from pipeline.accounts import audit
from pipeline.accounts.users import (
    LoginLimits,
    add_user,
    authenticate,
    disable_user,
    enable_user,
    get_user,
    list_users,
    reset_password,
    role_allows,
)
from pipeline.errors import AccountError, LoginError
from pipeline.store.tables import accounts

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
LIMITS = LoginLimits(per_account=3, per_ip=5, window=600)


def test_add_list_and_the_password_is_hashed_with_argon2id(engine: Engine) -> None:
    made = add_user(engine, "  Ada   Lovelace ", "Ada@Example.com", "approver", PASSWORD, now=NOW)
    assert (made.name, made.email, made.role, made.disabled) == (
        "Ada Lovelace",
        "ada@example.com",
        "approver",
        False,
    )
    assert len(made.public_id) == 32
    with engine.connect() as conn:
        stored = conn.execute(select(accounts.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    add_user(engine, "Bea", "bea@example.com", "editor", PASSWORD, now=NOW)
    assert [a.email for a in list_users(engine)] == ["ada@example.com", "bea@example.com"]
    entries = audit.recent(engine, 10)
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("cli", "user.add", "bea@example.com"),
        ("cli", "user.add", "ada@example.com"),
    ]
    assert entries[1].detail == {"role": "approver"}


@pytest.mark.parametrize(
    ("email", "role", "password", "says"),
    [
        ("nobody", "editor", PASSWORD, "is not an email address"),
        ("a@example.com", "owner", PASSWORD, "unknown role 'owner'"),
        ("a@example.com", "editor", "short", "the password is too short"),
    ],
)
def test_add_refuses_what_cannot_work(
    engine: Engine, email: str, role: str, password: str, says: str
) -> None:
    with pytest.raises(AccountError, match=says):
        add_user(engine, "Someone", email, role, password)


def test_an_address_has_one_account(engine: Engine) -> None:
    add_user(engine, "Ada", "ada@example.com", "editor", PASSWORD)
    with pytest.raises(AccountError, match=r"already has an account.*reset-password"):
        add_user(engine, "Ada again", "ADA@example.com", "admin", PASSWORD)


def test_roles_are_ordered() -> None:
    assert role_allows("admin", "approver") and role_allows("approver", "approver")
    assert role_allows("approver", "editor") and not role_allows("editor", "approver")
    assert not role_allows("nobody", "editor")


def test_sign_in_with_the_right_password_only(engine: Engine) -> None:
    add_user(engine, "Ada", "ada@example.com", "editor", PASSWORD)
    account = authenticate(engine, " ADA@example.com", PASSWORD, "203.0.113.7", now=NOW)
    assert account.email == "ada@example.com"
    with pytest.raises(LoginError, match="wrong email address or password"):
        authenticate(engine, "ada@example.com", PASSWORD + "!", "203.0.113.7", now=NOW)
    with pytest.raises(LoginError, match="wrong email address or password"):
        authenticate(engine, "eve@example.com", PASSWORD, "203.0.113.7", now=NOW)
    actions = [(e.action, e.target, (e.detail or {}).get("ip")) for e in audit.recent(engine, 3)]
    assert actions == [
        ("login.failed", "eve@example.com", "203.0.113.7"),
        ("login.failed", "ada@example.com", "203.0.113.7"),
        ("login", "ada@example.com", "203.0.113.7"),
    ]


def test_an_account_locks_after_its_failures_even_for_the_right_password(engine: Engine) -> None:
    add_user(engine, "Ada", "ada@example.com", "editor", PASSWORD)
    for n in range(LIMITS.per_account):  # from different addresses: the account counts
        with pytest.raises(LoginError, match="wrong"):
            authenticate(
                engine, "ada@example.com", "guess", f"198.51.100.{n}", limits=LIMITS, now=NOW
            )
    with pytest.raises(LoginError, match="too many failed sign-ins") as locked:
        authenticate(engine, "ada@example.com", PASSWORD, "192.0.2.1", limits=LIMITS, now=NOW)
    assert 0 < locked.value.retry_after <= LIMITS.window
    # another account from the same addresses is not locked
    add_user(engine, "Bea", "bea@example.com", "editor", PASSWORD)
    assert authenticate(engine, "bea@example.com", PASSWORD, "198.51.100.0", limits=LIMITS, now=NOW)
    # once the window has moved on, the right password works again and clears the count
    later = NOW + timedelta(seconds=LIMITS.window + 1)
    assert authenticate(engine, "ada@example.com", PASSWORD, "192.0.2.1", limits=LIMITS, now=later)
    assert audit.recent(engine, 1, action="login.locked")[0].target == "ada@example.com"


def test_an_ip_locks_after_its_failures_on_any_account(engine: Engine) -> None:
    add_user(engine, "Ada", "ada@example.com", "editor", PASSWORD)
    for n in range(LIMITS.per_ip):  # a different address each time: the IP counts
        with pytest.raises(LoginError, match="wrong"):
            authenticate(
                engine, f"u{n}@example.com", "guess", "203.0.113.9", limits=LIMITS, now=NOW
            )
    with pytest.raises(LoginError, match="too many failed sign-ins"):
        authenticate(engine, "ada@example.com", PASSWORD, "203.0.113.9", limits=LIMITS, now=NOW)
    # the account itself is fine from elsewhere
    assert authenticate(engine, "ada@example.com", PASSWORD, "203.0.113.10", limits=LIMITS, now=NOW)


def test_an_ipv6_client_is_counted_by_its_64(engine: Engine) -> None:
    for n in range(LIMITS.per_ip):
        with pytest.raises(LoginError, match="wrong"):
            authenticate(
                engine,
                f"u{n}@example.com",
                "guess",
                f"2001:db8:1:2::{n + 1}",
                limits=LIMITS,
                now=NOW,
            )
    with pytest.raises(LoginError, match="too many"):
        authenticate(engine, "x@example.com", "guess", "2001:db8:1:2::ffff", limits=LIMITS, now=NOW)
    with pytest.raises(LoginError, match="wrong"):
        authenticate(engine, "x@example.com", "guess", "2001:db8:1:3::1", limits=LIMITS, now=NOW)


def test_disabled_accounts_cannot_sign_in_and_reset_moves_the_epoch(engine: Engine) -> None:
    made = add_user(engine, "Ada", "ada@example.com", "editor", PASSWORD)
    reset = reset_password(engine, "ada@example.com", "a new long password")
    assert reset.session_epoch == made.session_epoch + 1
    with pytest.raises(LoginError, match="wrong"):
        authenticate(engine, "ada@example.com", PASSWORD, "192.0.2.1", now=NOW)
    assert authenticate(engine, "ada@example.com", "a new long password", "192.0.2.1", now=NOW)
    disabled = disable_user(engine, "ada@example.com")
    assert disabled.disabled and disabled.session_epoch == reset.session_epoch + 1
    with pytest.raises(LoginError, match="this account is disabled"):
        authenticate(engine, "ada@example.com", "a new long password", "192.0.2.1", now=NOW)
    assert get_user(engine, "ada@example.com").disabled
    with pytest.raises(AccountError, match=r"no account for nobody@example\.com"):
        disable_user(engine, "nobody@example.com")
    assert [e.action for e in audit.recent(engine, 20) if e.actor == "cli"] == [
        "user.disable",
        "user.reset-password",
        "user.add",
    ]


def test_an_enabled_account_signs_in_again_with_its_password(engine: Engine) -> None:
    add_user(engine, "Ada", "ada@example.com", "editor", PASSWORD)
    disabled = disable_user(engine, "ada@example.com")
    enabled = enable_user(engine, "ADA@example.com ", actor="boss@example.com", now=NOW)
    assert not enabled.disabled
    assert enabled.session_epoch == disabled.session_epoch  # the ended sessions stay ended
    assert authenticate(engine, "ada@example.com", PASSWORD, "192.0.2.1", now=NOW).email == (
        "ada@example.com"
    )
    again = enable_user(engine, "ada@example.com", now=NOW)  # already active: no change
    assert not again.disabled and again.session_epoch == enabled.session_epoch
    entries = [e for e in audit.recent(engine, 20) if e.action == "user.enable"]
    assert [(e.actor, e.target, e.detail) for e in entries] == [
        ("cli", "ada@example.com", {"was": "active"}),
        ("boss@example.com", "ada@example.com", {"was": "disabled"}),
    ]
    with pytest.raises(AccountError, match="newsletter users list"):
        enable_user(engine, "nobody@example.com")
