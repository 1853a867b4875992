"""Fixtures of the feeds tests: the feed server and settings with small limits."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.store.db import connect
from tests.feeds.server import FeedServer, running_server

# Small limits so the failure cases answer quickly (the timeout leaves room for a busy CI).
FAST = {"feeds.timeout": 2.0, "feeds.max_bytes": 65_536, "feeds.max_redirects": 3}


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


@pytest.fixture
def sqlite_engine(tmp_path: Path, _sqlite_template: Path) -> Iterator[Engine]:
    """An SQLite database only (for the corpus sweep, which one database covers)."""
    target = tmp_path / "corpus.db"
    shutil.copyfile(_sqlite_template, target)
    engine = connect(f"sqlite:///{target}")
    yield engine
    engine.dispose()
