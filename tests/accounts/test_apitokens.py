"""API tokens: made once, stored as a digest, acting with their role, revocable."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, select

from pipeline.accounts import audit
from pipeline.accounts.apitokens import account_for_token, create_token, list_tokens, revoke_token
from pipeline.errors import AccountError
from pipeline.store.tables import api_tokens


def test_a_token_is_stored_as_its_digest_and_acts_with_its_role(engine: Engine) -> None:
    raw = create_token(engine, "shop-sync", "approver")
    assert raw.startswith("nlt_") and len(raw) > 40
    with engine.connect() as conn:
        stored = conn.execute(select(api_tokens.c.digest)).scalar_one()
    assert stored == hashlib.sha256(raw.encode()).hexdigest()
    account = account_for_token(engine, raw)
    assert (account.kind, account.name, account.role, account.actor) == (
        "token",
        "shop-sync",
        "approver",
        "token:shop-sync",
    )
    assert account.can("editor") and not account.can("admin")
    [info] = list_tokens(engine)
    assert info.name == "shop-sync" and info.active and info.last_used_at is not None


def test_unknown_malformed_and_revoked_tokens_are_refused(engine: Engine) -> None:
    raw = create_token(engine, "ci", "editor")
    for bad in ("", "Bearer", raw[:-1] + ("A" if raw[-1] != "A" else "B"), "nlt_" + "x" * 43):
        with pytest.raises(AccountError, match="not valid"):
            account_for_token(engine, bad)
    revoke_token(engine, "ci")
    with pytest.raises(AccountError, match="revoked"):
        account_for_token(engine, raw)
    with pytest.raises(AccountError, match="no active token named 'ci'"):
        revoke_token(engine, "ci")
    assert [e.action for e in audit.recent(engine, 5)] == ["token.revoke", "token.create"]


def test_names_are_checked_and_unique(engine: Engine) -> None:
    create_token(engine, "ci", "editor")
    with pytest.raises(AccountError, match="exists already"):
        create_token(engine, "ci", "admin")
    with pytest.raises(AccountError, match="not a token name"):
        create_token(engine, "no spaces", "admin")
    with pytest.raises(AccountError, match="unknown role"):
        create_token(engine, "other", "root")
