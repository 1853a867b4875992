"""A token bucket: at most ``rate`` messages per second, bursts up to one second's worth.

Time comes from an injectable ``now`` (seconds, monotonic) and ``sleep``, so tests drive it
without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(rate, 1.0)
        self.tokens = self.capacity
        self._now = now
        self._sleep = sleep
        self._last = now()

    def _refill(self) -> None:
        current = self._now()
        self.tokens = min(self.capacity, self.tokens + (current - self._last) * self.rate)
        self._last = current

    def wait_time(self, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are available (0 when they are)."""
        if self.rate <= 0:
            return 0.0
        self._refill()
        missing = n - self.tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate  # no float dust

    def acquire(self, n: float = 1.0) -> float:
        """Take ``n`` tokens, sleeping once if needed; return the seconds slept."""
        if self.rate <= 0:
            return 0.0
        delay = self.wait_time(n)
        if delay > 0:
            self._sleep(delay)
            # The sleep paid for the missing tokens (also with a sleep that does not wait).
            self.tokens = n
            self._last = max(self._last, self._now())
        self.tokens -= n
        return delay
