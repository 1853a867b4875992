"""Injectable time. Stages take a ``Clock``; tests pass a ``FixedClock`` (no sleeping).

The CLI builds the clock once: ``SystemClock()``, or, when NEWSLETTER_NOW is set (tests
that start real processes use it), a clock frozen at that ISO-8601 instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that only moves when told to."""

    current: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta


def clock_from_env(value: str | None) -> Clock:
    """SystemClock, or a FixedClock at ``value`` (ISO-8601 with an offset, e.g. NEWSLETTER_NOW)."""
    if not value:
        return SystemClock()
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return FixedClock(when.astimezone(UTC))
