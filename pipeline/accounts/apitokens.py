"""API tokens: ``newsletter tokens create --name NAME --role ROLE`` makes one for a program.

A token is ``nlt_`` followed by 32 random bytes (URL-safe base64). It is shown once; the
database keeps only its SHA-256 digest (a random secret of that length needs no slow hash:
nothing can be guessed from the digest), so a copy of the database lets nobody use the API.
A token acts with its role (``editor < approver < admin``) and is named ``token:<name>``
in the audit log. Revoking one stops it at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.accounts import audit
from pipeline.accounts.users import Account, Role, check_role
from pipeline.errors import AccountError
from pipeline.store.tables import api_tokens

PREFIX = "nlt_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_RAW = re.compile(r"nlt_[A-Za-z0-9_-]{40,60}")


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(
    engine: Engine, name: str, role: str, *, actor: str = "cli", now: datetime | None = None
) -> str:
    """A new token (shown once: only its digest is kept)."""
    if not _NAME.fullmatch(name):
        raise AccountError(
            f"{name!r} is not a token name",
            fix="use letters, digits, '.', '_' or '-' (at most 100), e.g. 'shop-sync'",
        )
    checked = check_role(role)
    raw = PREFIX + secrets.token_urlsafe(32)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(api_tokens).values(
                    name=name,
                    role=checked,
                    digest=_digest(raw),
                    created_at=now or datetime.now(UTC),
                )
            )
    except IntegrityError:
        raise AccountError(
            f"a token named {name!r} exists already",
            fix="choose another name, or revoke the old one with 'newsletter tokens revoke'",
        ) from None
    audit.record(engine, actor, "token.create", name, {"role": checked}, now=now)
    return raw


def list_tokens(engine: Engine) -> list[TokenInfo]:
    """Every token (revoked ones too), by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(api_tokens).order_by(api_tokens.c.name)).all()
    return [
        TokenInfo(r.id, r.name, check_role(r.role), r.created_at, r.last_used_at, r.revoked_at)
        for r in rows
    ]


def revoke_token(
    engine: Engine, name: str, *, actor: str = "cli", now: datetime | None = None
) -> None:
    """Stop a token from working, at once."""
    when = now or datetime.now(UTC)
    with engine.begin() as conn:
        done = conn.execute(
            update(api_tokens)
            .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=when)
        ).rowcount
    if not done:
        raise AccountError(f"no active token named {name!r}", fix="see 'newsletter tokens list'")
    audit.record(engine, actor, "token.revoke", name, now=now)


def account_for_token(engine: Engine, raw: str, *, now: datetime | None = None) -> Account:
    """The account a bearer token acts as; AccountError for an unknown or revoked token."""
    if not _RAW.fullmatch(raw or ""):
        raise AccountError(
            "this API token is not valid", fix="send 'Authorization: Bearer nlt_...'"
        )
    digest = _digest(raw)
    with engine.connect() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.digest == digest)).first()
    if row is None or not hmac.compare_digest(row.digest, digest) or row.revoked_at is not None:
        raise AccountError(
            "this API token is not valid or was revoked",
            fix="make a new one with 'newsletter tokens create'",
        )
    when = now or datetime.now(UTC)
    last = row.last_used_at
    if last is None or (when - last).total_seconds() > 60:  # one write a minute at most
        with engine.begin() as conn:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=when)
            )
    return Account(
        id=row.id,
        public_id=f"token-{row.id}",
        name=row.name,
        email="",
        role=check_role(row.role),
        disabled=False,
        kind="token",
    )
