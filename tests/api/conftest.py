"""The API's tests: the web tests' server (real uvicorn, test database, fixed clock) and a
token of each role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine

from pipeline.accounts.apitokens import create_token
from tests.web.conftest import Server, clock, server, signing_key, web_settings

__all__ = ["clock", "server", "signing_key", "web_settings"]

Client = Callable[[str], httpx.Client]


@pytest.fixture
def tokens(engine: Engine) -> dict[str, str]:
    return {
        role: create_token(engine, f"{role}-bot", role) for role in ("editor", "approver", "admin")
    }


@pytest.fixture
def api(server: Server, tokens: dict[str, str]) -> Iterator[Client]:
    """``api("editor")``: a client whose requests carry that role's token."""
    clients: list[httpx.Client] = []

    def make(role: str) -> httpx.Client:
        client = server.client(headers={"Authorization": f"Bearer {tokens[role]}"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
