"""Fixtures of the feeds tests: the feed server and settings with small limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline.config import Settings
from tests.feeds.server import FeedServer, running_server

# Small limits so the failure cases answer at once.
FAST = {"feeds.timeout": 0.5, "feeds.max_bytes": 65_536, "feeds.max_redirects": 3}


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    yield from running_server()


@pytest.fixture
def feed_settings(make_settings: Callable[..., Settings], db_url: str) -> Settings:
    return make_settings(**{"database.url": db_url, **FAST})


@pytest.fixture
def fetch_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings without a database, with the small limits and any overrides."""

    def make(**overrides: Any) -> Settings:
        return make_settings(**{**FAST, **overrides})

    return make
