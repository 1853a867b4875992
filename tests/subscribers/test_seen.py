"""SeenKeys: the compact map from a key's hash to the first line it was met on."""

from __future__ import annotations

from pipeline.subscribers.seen import SeenKeys


def test_a_new_key_is_remembered_and_the_second_time_names_the_first_line() -> None:
    seen = SeenKeys()
    assert seen.first_line(hash("a@example.org"), 2) is None
    assert seen.first_line(hash("b@example.org"), 3) is None
    assert seen.first_line(hash("a@example.org"), 9) == 2
    assert seen.first_line(hash("a@example.org"), 10) == 2  # still the first line
    assert len(seen) == 2


def test_it_grows_past_its_first_capacity_and_forgets_nothing() -> None:
    seen = SeenKeys(capacity=16)
    keys = [hash(f"reader{i}@example.org") for i in range(5000)]
    for line, key in enumerate(keys, start=2):
        assert seen.first_line(key, line) is None
    assert len(seen) == 5000
    for line, key in enumerate(keys, start=2):
        assert seen.first_line(key, 1) == line


def test_keys_that_share_their_low_bits_and_zero_are_told_apart() -> None:
    seen = SeenKeys(capacity=16)
    colliding = [i << 20 for i in range(1, 41)] + [0, -1, -(2**63), 2**63 - 1]
    for line, key in enumerate(colliding, start=2):
        assert seen.first_line(key, line) is None
    for line, key in enumerate(colliding, start=2):
        assert seen.first_line(key, 1) == line
