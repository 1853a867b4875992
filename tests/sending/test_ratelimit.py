from __future__ import annotations

import random
from datetime import timedelta

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.sending.engine import backoff_delay
from pipeline.sending.ratelimit import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_caps_the_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, now=lambda: t.now, sleep=t.sleep)
    for _ in range(10):
        bucket.acquire()
    assert t.slept == []  # a second's burst is free
    for _ in range(50):
        bucket.acquire()
    assert round(t.now, 6) == 5.0  # 50 more at 10/s take five seconds


def test_no_cap_never_sleeps() -> None:
    t = FakeTime()
    bucket = TokenBucket(0, now=lambda: t.now, sleep=t.sleep)
    for _ in range(1000):
        bucket.acquire()
    assert t.slept == []


def test_backoff_doubles_with_jitter_and_a_ceiling(file_settings: Settings) -> None:
    rng = random.Random(4)
    delays = [backoff_delay(file_settings, n, rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(300.0, 1.0 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)


def test_engine_throttles_to_the_rate_limit(
    make_settings: object, db_url: str, engine: object
) -> None:
    from pipeline.sending.engine import send_edition
    from tests.sending.conftest import add_audience, make_edition

    settings = make_settings(**{"database.url": db_url, "sending.rate_limit": 20})  # type: ignore[operator]
    add_audience(engine, 100)  # type: ignore[arg-type]
    eid = make_edition(engine)  # type: ignore[arg-type]
    clock = FixedClock()  # the bucket's time moves only when it sleeps: the sleeps are exact
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    report = send_edition(settings, engine, eid, clock=clock, sleep=sleep)  # type: ignore[arg-type]
    assert report.sent == 100
    # 100 messages at 20/s, handed over 10 at a time (maildir's hand-off): the first
    # second's burst is free, then half a second per hand-off, four seconds in all.
    assert slept == [0.5] * 8
