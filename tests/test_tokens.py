"""Signed, purpose-bound, expiring link tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.errors import WebError
from pipeline.tokens import link, make_token, read_token


def test_round_trip_carries_subscriber_and_edition() -> None:
    token = make_token("k", "unsubscribe", 42, 7)
    data = read_token("k", "unsubscribe", token)
    assert (data.purpose, data.subscriber_id, data.edition_id) == ("unsubscribe", 42, 7)
    assert link("https://x.test/", "unsubscribe", token) == f"https://x.test/unsubscribe/{token}"


def test_a_token_only_works_for_its_purpose_and_key() -> None:
    token = make_token("k", "confirm", 1)
    with pytest.raises(WebError, match="not valid"):
        read_token("k", "unsubscribe", token)
    with pytest.raises(WebError, match="not valid"):
        read_token("other", "confirm", token)
    with pytest.raises(WebError, match="not valid"):
        read_token("k", "confirm", token[:-2] + "xx")


def test_expired_token_is_refused() -> None:
    token = make_token("k", "confirm", 1)
    with pytest.raises(WebError, match="expired"):
        read_token("k", "confirm", token, max_age=timedelta(seconds=-1))
