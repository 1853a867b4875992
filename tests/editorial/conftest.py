"""Editorial review tests: settings that require approval, a clock, an audience."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.clock import FixedClock
from pipeline.config import Settings
from tests.schedule.conftest import smtp_recorder  # noqa: F401  (a fixture)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def strict(make_settings: Callable[..., Settings], db_url: str) -> Callable[..., Settings]:
    """Settings with ``[editorial] require_approval = true`` (and more overrides)."""

    def make(**more: Any) -> Settings:
        return make_settings(**{"database.url": db_url, "editorial.require_approval": True, **more})

    return make
