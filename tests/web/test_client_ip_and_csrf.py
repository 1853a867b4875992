"""The client's address behind proxies, and CSRF tokens, without a server."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from pipeline.web.security import client_ip, csrf_ok, issue_csrf_cookie, make_csrf_token


def request_from(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),  # no proxy trusted
        ("203.0.113.9", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.9"),  # peer not trusted
        ("10.0.0.2", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.7", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", "not-an-ip", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
        ("::1", "2001:db8::5", ["::1"], "2001:db8::5"),
        ("10.0.0.2", "10.0.0.3, 10.0.0.4", ["10.0.0.0/8"], "10.0.0.3"),  # all proxies
    ],
)
def test_client_ip(peer: str, forwarded: str, trusted: list[str], expected: str) -> None:
    assert client_ip(request_from(peer, forwarded), trusted) == expected


def test_csrf_token_signs_the_cookie_value() -> None:
    cookie = issue_csrf_cookie("secret")
    token = make_csrf_token("secret", cookie)
    assert csrf_ok("secret", cookie, token)
    assert not csrf_ok("secret", issue_csrf_cookie("secret"), token)
    assert not csrf_ok("other secret", cookie, token)
    assert not csrf_ok("secret", None, token)
    assert not csrf_ok("secret", cookie, None)
    assert not csrf_ok("secret", cookie, token + "x")


def test_a_planted_well_formed_cookie_fails_even_with_a_matching_token() -> None:
    planted = "cookie-value-0123456789abcdefghijklmnop"
    assert not csrf_ok("secret", planted, make_csrf_token("secret", planted))
    nonce = planted
    forged = f"{nonce}.{'A' * 43}"  # the shape of an issued value, a made-up MAC
    assert not csrf_ok("secret", forged, make_csrf_token("secret", forged))
