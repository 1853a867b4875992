"""Every route of the app under /admin and /api refuses a request without a session or a
token: 303 to the login page for the studio's pages, 401 for the API. The routes are read
from the app itself (``app.routes``), so a page or endpoint added later is covered without
touching this test. Open on purpose: the login page, and static files."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from pipeline.accounts.users import Account
from tests.web.conftest import Server

#: The only routes under /admin or /api that answer without a session or a token.
OPEN = {("GET", "/admin/login"), ("POST", "/admin/login")}
PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


def _fill(path: str) -> str:
    """A concrete path for a route's template: a number for int parameters, else a word."""

    def value(match: re.Match[str]) -> str:
        return "1" if match.group(2) == "int" else ("a/b" if match.group(2) == "path" else "x1")

    return PARAM.sub(value, path)


def guarded_routes(server: Server) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    # every route with its full path, those of included routers too
    for route in iter_route_contexts(server.app.routes):
        path = route.path or ""
        if isinstance(route.original_route, Mount):  # static files only, none under /admin
            assert route.name == "static" or "static" in path, path
            continue
        if not path.startswith(("/admin", "/api")):
            continue
        assert route.methods, path
        for method in sorted(route.methods):
            if method == "HEAD" or (method, path) in OPEN:
                continue
            found.append((method, path))
    return found


def unguarded(server: Server) -> list[str]:
    """The routes under /admin and /api that do not refuse a request without a session or
    token (and with forged ones)."""
    refused: list[str] = []
    with server.client() as client:
        for method, template in guarded_routes(server):
            path = _fill(template)
            response = client.request(method, path)
            if template.startswith("/admin"):
                ok = response.status_code == 303 and response.headers["location"].startswith(
                    "/admin/login"
                )
            else:
                ok = response.status_code == 401 and "Bearer" in response.headers.get(
                    "www-authenticate", ""
                )
            if not ok:
                refused.append(f"{method} {path}: {response.status_code}")
            # a forged session cookie or a made-up bearer token is no better
            bad = client.request(
                method,
                path,
                headers={"Authorization": "Bearer nlt_" + "x" * 43},
                cookies={"nl_studio": "forged.0.1.00000000000000000000000000000000"},
            )
            if bad.status_code not in (303, 401):
                refused.append(f"{method} {path} with forged credentials: {bad.status_code}")
    return refused


def test_every_admin_and_api_route_refuses_without_a_session_or_token(
    server: Server, editor: Account
) -> None:
    routes = guarded_routes(server)
    assert ("GET", "/admin") in routes and ("POST", "/admin/logout") in routes
    leaks = unguarded(server)
    assert leaks == [], "routes that answer without a session or token:\n" + "\n".join(leaks)


def test_the_walk_finds_a_route_added_without_protection(server: Server) -> None:
    """The test above really catches a route someone forgets to protect."""
    extra = APIRouter()

    @extra.get("/admin/forgotten/{item_id:int}")
    async def forgotten(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    server.app.include_router(extra)
    assert unguarded(server) == [
        "GET /admin/forgotten/1: 200",
        "GET /admin/forgotten/1 with forged credentials: 200",
    ]


@pytest.mark.parametrize("path", ["/admin/", "/admin/nothing-here", "/api/v1/nothing-here"])
def test_unknown_addresses_under_admin_and_api_reveal_nothing(server: Server, path: str) -> None:
    with httpx.Client(base_url=server.url) as client:
        response = client.get(path)
    assert response.status_code in (303, 401, 404)
