"""Editors' accounts: add, list, disable, enable again, reset a password, and sign in.

Roles are ordered ``editor < approver < admin``: an approver can do all an editor can, an
admin everything (accounts included). Passwords are hashed with Argon2id (argon2-cffi, its
default parameters; a hash made with weaker ones is redone at the next sign-in).

Sign-in failures are counted in the database (table ``login_failures``), so every worker
and every host on the same database counts together: at most
``[studio] login_max_failures`` per account and ``login_ip_max_failures`` per client IP
(an IPv6 client's /64) within ``login_window`` seconds. Past either, every sign-in is
refused until the window has moved on, the right password included; a successful sign-in
clears the account's count. Unknown addresses take as long to refuse as wrong passwords.

Each account has a random ``public_id`` (what the session cookie names) and a
``session_epoch``, bumped by a password reset or ``disable_user``: the studio refuses a
session made before, so both end every open session at once.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.accounts import audit
from pipeline.errors import AccountError, LoginError
from pipeline.store.tables import accounts, login_failures

__all__ = [
    "ROLES",
    "Account",
    "LoginError",
    "LoginLimits",
    "Role",
    "add_user",
    "authenticate",
    "disable_user",
    "enable_user",
    "get_user",
    "list_users",
    "reset_password",
    "role_allows",
    "user_by_public_id",
]

Role = Literal["editor", "approver", "admin"]
#: From least to most allowed.
ROLES: tuple[Role, ...] = ("editor", "approver", "admin")

MIN_PASSWORD = 10
MAX_PASSWORD = 1024


@dataclass(frozen=True)
class Account:
    """Someone (or, with ``kind == "token"``, a program) who acts in the studio or the API."""

    id: int
    public_id: str
    name: str
    email: str
    role: Role
    disabled: bool
    kind: Literal["user", "token"] = "user"
    session_epoch: int = 0

    @property
    def actor(self) -> str:
        """How the audit log names this account: its email, or ``token:<name>``."""
        return f"token:{self.name}" if self.kind == "token" else self.email

    def can(self, role: str) -> bool:
        """True when this account's role is ``role`` or above it."""
        return role_allows(self.role, role)


@dataclass(frozen=True)
class LoginLimits:
    """The failed sign-ins allowed per account and per IP within ``window`` seconds."""

    per_account: int = 5
    per_ip: int = 20
    window: int = 900


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}", fix=f"use one of {', '.join(ROLES)}")
    return role


def role_allows(have: str, need: str) -> bool:
    """True when role ``have`` is ``need`` or above it (editor < approver < admin)."""
    if have not in ROLES:
        return False
    return ROLES.index(have) >= ROLES.index(check_role(need))


def _email(address: str) -> str:
    text = address.strip().lower()
    local, at, domain = text.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(text) > 320
        or any(c.isspace() or ord(c) < 32 for c in text)
    ):
        raise AccountError(f"{address!r} is not an email address", fix="give it as name@domain")
    return text


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            f"the password is too short ({len(password)} characters)",
            fix=f"use at least {MIN_PASSWORD} characters; a few unrelated words work well",
        )
    if len(password) > MAX_PASSWORD:
        raise AccountError("the password is too long", fix=f"use at most {MAX_PASSWORD}")


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to verify against for an unknown address (the same work as a real one)."""
    return _hasher().hash("no account has this password, it only takes time")


def hash_password(password: str) -> str:
    _check_password(password)
    return _hasher().hash(password)


def _account(row: Any) -> Account:
    m = row._mapping
    return Account(
        id=m["id"],
        public_id=m["public_id"],
        name=m["name"],
        email=m["email"],
        role=cast(Role, m["role"]),
        disabled=bool(m["disabled"]),
        session_epoch=int(m["session_epoch"]),
    )


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def add_user(
    engine: Engine,
    name: str,
    email: str,
    role: str,
    password: str,
    *,
    actor: str = "cli",
    now: datetime | None = None,
) -> Account:
    """Create an account; AccountError when the address has one already."""
    clean_name = " ".join(name.split())
    if not clean_name or len(clean_name) > 200:
        raise AccountError("an account needs a name (at most 200 characters)", fix="give NAME")
    address = _email(email)
    checked = check_role(role)
    hashed = hash_password(password)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(accounts).values(
                    name=clean_name,
                    email=address,
                    role=checked,
                    password_hash=hashed,
                    disabled=False,
                    session_epoch=0,
                    created_at=_now(now),
                )
            )
    except IntegrityError:
        raise AccountError(
            f"{address} already has an account",
            fix="use 'newsletter users reset-password' to change its password",
        ) from None
    audit.record(engine, actor, "user.add", address, {"role": checked}, now=now)
    return get_user(engine, address)


def get_user(engine: Engine, email: str) -> Account:
    """The account of ``email``; AccountError when there is none."""
    address = email.strip().lower()
    with engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.email == address)).first()
    if row is None:
        raise AccountError(f"no account for {email}", fix="see 'newsletter users list'")
    return _account(row)


def user_by_public_id(engine: Engine, public_id: str) -> Account | None:
    """The account a session names, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.public_id == public_id)).first()
    return _account(row) if row is not None else None


def list_users(engine: Engine) -> list[Account]:
    """Every account, by email."""
    with engine.connect() as conn:
        rows = conn.execute(select(accounts).order_by(accounts.c.email)).all()
    return [_account(row) for row in rows]


def disable_user(
    engine: Engine, email: str, *, actor: str = "cli", now: datetime | None = None
) -> Account:
    """Disable an account: it cannot sign in, and its open sessions stop working."""
    account = get_user(engine, email)
    with engine.begin() as conn:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account.id)
            .values(disabled=True, session_epoch=accounts.c.session_epoch + 1)
        )
    audit.record(engine, actor, "user.disable", account.email, now=now)
    return get_user(engine, account.email)


def enable_user(
    engine: Engine, email: str, *, actor: str = "cli", now: datetime | None = None
) -> Account:
    """Let a disabled account sign in again (with its password as it was; the sessions
    ended by ``disable_user`` stay ended). Enabling an active account changes nothing but
    is recorded too."""
    account = get_user(engine, email)
    with engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.id == account.id).values(disabled=False))
    detail = {"was": "disabled" if account.disabled else "active"}
    audit.record(engine, actor, "user.enable", account.email, detail, now=now)
    return get_user(engine, account.email)


def reset_password(
    engine: Engine, email: str, password: str, *, actor: str = "cli", now: datetime | None = None
) -> Account:
    """Set a new password; every open session of the account ends."""
    account = get_user(engine, email)
    hashed = hash_password(password)
    with engine.begin() as conn:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account.id)
            .values(password_hash=hashed, session_epoch=accounts.c.session_epoch + 1)
        )
        conn.execute(
            delete(login_failures).where(login_failures.c.key == f"account:{account.email}")
        )
    audit.record(engine, actor, "user.reset-password", account.email, now=now)
    return get_user(engine, account.email)


# ---- signing in --------------------------------------------------------------------------
def _network(ip: str) -> str:
    """What the per-IP limit counts: the address, or an IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _failures(engine: Engine, key: str, since: datetime) -> tuple[int, datetime | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.min(login_failures.c.at)).where(
                login_failures.c.key == key, login_failures.c.at > since
            )
        ).one()
    return int(row[0]), row[1]


def _retry_after(oldest: datetime | None, since: datetime) -> int:
    if oldest is None:
        return 1
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(1, math.ceil((oldest - since).total_seconds()))


def _fail(engine: Engine, keys: list[str], now: datetime, window: int) -> None:
    with engine.begin() as conn:
        conn.execute(insert(login_failures), [{"key": key[:400], "at": now} for key in keys])
        # forget failures no window counts any more
        conn.execute(
            delete(login_failures).where(login_failures.c.at < now - timedelta(seconds=window))
        )


def authenticate(
    engine: Engine,
    email: str,
    password: str,
    ip: str,
    *,
    limits: LoginLimits | None = None,
    now: datetime | None = None,
) -> Account:
    """The account whose address and password these are; LoginError otherwise (wrong
    address or password, too many failures for the account or the IP, a disabled account).
    Every outcome is in the audit log."""
    limits = limits or LoginLimits()
    when = _now(now)
    address = email.strip().lower()[:320]
    account_key = f"account:{address}"
    ip_key = f"ip:{_network(ip)}"
    since = when - timedelta(seconds=limits.window)
    for key, allowed in ((account_key, limits.per_account), (ip_key, limits.per_ip)):
        count, oldest = _failures(engine, key, since)
        if count >= allowed:
            audit.record(
                engine, address or "-", "login.locked", address, {"ip": ip, "by": key}, now=when
            )
            wait = _retry_after(oldest, since)
            raise LoginError(
                "too many failed sign-ins",
                fix=f"wait {max(1, (wait + 59) // 60)} minute(s) and try again, "
                "or ask an admin to reset the password",
                retry_after=wait,
            )
    with engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.email == address)).first()
    stored = row._mapping["password_hash"] if row is not None else _dummy_hash()
    try:
        good = password != "" and len(password) <= MAX_PASSWORD
        good = good and _hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        good = False
    if row is None or not good:
        _fail(engine, [account_key, ip_key], when, limits.window)
        audit.record(engine, address or "-", "login.failed", address, {"ip": ip}, now=when)
        raise LoginError("wrong email address or password", fix="check both and try again")
    account = _account(row)
    if account.disabled:
        audit.record(engine, address, "login.disabled", address, {"ip": ip}, now=when)
        raise LoginError("this account is disabled", fix="ask an admin of the newsletter")
    values: dict[str, object] = {"last_login_at": when}
    if _hasher().check_needs_rehash(stored):
        values["password_hash"] = _hasher().hash(password)
    with engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.id == account.id).values(**values))
        conn.execute(delete(login_failures).where(login_failures.c.key == account_key))
    audit.record(engine, address, "login", address, {"ip": ip}, now=when)
    return account
