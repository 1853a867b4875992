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


def test_keys_of_one_table_and_of_every_table_grow_apart_and_forget_nothing() -> None:
    """The tables grow one by one (so the import's memory never doubles at once)."""
    seen = SeenKeys(capacity=16)
    one_table = [(7 << 58) | i for i in range(1, 3000)]  # the same top bits
    every_table = [(top << 59) + i for top in range(-16, 16) for i in range(1, 200)]
    keys = list(dict.fromkeys(one_table + every_table))
    for line, key in enumerate(keys, start=2):
        assert seen.first_line(key, line) is None
    assert len(seen) == len(keys)
    for line, key in enumerate(keys, start=2):
        assert seen.first_line(key, 1) == line
    assert len(seen) == len(keys)
