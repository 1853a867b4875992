"""Suppression hashes: the hasher an import binds once gives the same hashes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.subscribers.suppression import hash_with_salt, salted_hasher


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=64), st.lists(st.text(max_size=80), max_size=5))
def test_salted_hasher_is_hash_with_salt(salt: str, addresses: list[str]) -> None:
    digest = salted_hasher(salt)
    for address in addresses * 2:  # the bound state is copied, never used up
        assert digest(address) == hash_with_salt(salt, address)
