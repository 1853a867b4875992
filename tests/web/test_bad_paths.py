"""Bad paths on every route (a NUL byte, a 5,000-character path) answer 404, never 500;
a wrong method answers 405 with ``Allow``."""

from __future__ import annotations

import pytest

from pipeline.web.security import bad_path
from tests.web.conftest import Server

#: Every route of the app, with the place where an attacker's path goes.
ROUTES = [
    ("GET", "/issues/{x}"),
    ("GET", "/archive/{x}"),
    ("GET", "/archive/{x}/"),
    ("GET", "/archive/some-issue/images/{x}.png"),
    ("GET", "/brand/{x}.png"),
    ("GET", "/static/{x}.js"),
    ("GET", "/confirm/{x}"),
    ("POST", "/confirm/{x}"),
    ("GET", "/unsubscribe/{x}"),
    ("POST", "/unsubscribe/{x}"),
    ("GET", "/preferences/{x}"),
    ("POST", "/preferences/{x}"),
    ("GET", "/l/{x}/0"),
    ("GET", "/o/{x}.gif"),
    ("GET", "/{x}"),
]

BAD = {
    "nul": "x.png%00",
    "nul-middle": "a%00b",
    "long": "a" * 5000,
    "long-encoded": "%41" * 2000,
    "control": "a%0d%0ab",
    "bad-utf8": "%ff%fe",
}


@pytest.mark.parametrize("method,template", ROUTES)
def test_bad_paths_give_404_on_every_route(server: Server, method: str, template: str) -> None:
    with server.client() as client:
        for name, bad in BAD.items():
            answer = client.request(method, template.replace("{x}", bad))
            assert answer.status_code == 404, (name, answer.status_code, answer.text[:200])
            assert "Traceback" not in answer.text
            assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_guard_lets_ordinary_paths_through() -> None:
    assert not bad_path("/archive/2026-12-01-test/images/hero.png", None)
    assert not bad_path("/issues/caf\u00e9", b"/issues/caf%C3%A9")
    assert bad_path("/a\x00b", b"/a%00b")
    assert bad_path("/" + "a" * 5000, None)


@pytest.mark.parametrize(
    "method,path,allowed",
    [
        ("DELETE", "/subscribe", {"GET", "POST"}),
        ("PUT", "/feed.xml", {"GET"}),
        ("GET", "/webhooks/sendgrid", {"POST"}),
        ("PATCH", "/confirm/abc", {"GET", "POST"}),
    ],
)
def test_405_says_which_methods_are_allowed(
    server: Server, method: str, path: str, allowed: set[str]
) -> None:
    with server.client() as client:
        answer = client.request(method, path)
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} >= allowed


@pytest.mark.parametrize(
    "path", ["/subscribe", "/feed.xml", "/confirm/abc", "/webhooks/sendgrid", "/l/a/1", "/o/x.gif"]
)
def test_every_method_in_allow_is_really_taken(server: Server, path: str) -> None:
    """Allow names exactly the methods the address answers (no HEAD where it gives 405)."""
    with server.client() as client:
        allow = client.request("PATCH", path).headers["allow"]
        for method in (m.strip() for m in allow.split(",")):
            assert client.request(method, path).status_code != 405, (method, path, allow)
        for method in {"GET", "HEAD", "POST"} - {m.strip() for m in allow.split(",")}:
            assert client.request(method, path).status_code == 405, (method, path, allow)
