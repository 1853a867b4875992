"""The studio's tests use the web tests' server (a real uvicorn on the test database, with
a fixed clock), plus an account of each role."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from pipeline.accounts.users import Account, add_user
from tests.web.conftest import clock, server, signing_key, web_settings

__all__ = ["clock", "server", "signing_key", "web_settings"]

PASSWORD = "a long and fine password"


@pytest.fixture
def editor(engine: Engine) -> Account:
    return add_user(engine, "Edie Editor", "edie@example.com", "editor", PASSWORD)


@pytest.fixture
def approver(engine: Engine) -> Account:
    return add_user(engine, "Abe Approver", "abe@example.com", "approver", PASSWORD)


@pytest.fixture
def admin(engine: Engine) -> Account:
    return add_user(engine, "Ada Admin", "ada@example.com", "admin", PASSWORD)
