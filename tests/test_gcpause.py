"""pipeline.gcpause: one process-wide pause of the cycle collector, shared by bulk work in
several threads."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pipeline.gcpause import collector_paused


@pytest.fixture
def collecting() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_comes_back_when_the_last_of_overlapping_pauses_ends(
    collecting: None,
) -> None:
    collector_paused.__enter__()  # one import starts
    assert not gc.isenabled()
    with collector_paused:  # another one starts and ends while the first runs
        assert not gc.isenabled()
    assert not gc.isenabled()  # the first still runs: still off
    collector_paused.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collecting: None) -> None:
    gc.disable()
    with collector_paused:
        assert not gc.isenabled()
    assert not gc.isenabled()
    gc.enable()


def test_the_collector_comes_back_after_an_error(collecting: None) -> None:
    with pytest.raises(RuntimeError), collector_paused:
        raise RuntimeError("a broken row")
    assert gc.isenabled()
