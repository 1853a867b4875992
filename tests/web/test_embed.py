"""The embeddable signup form, in chromium, from pages served on other loopback ports
(other origins): it works from an origin in web.embed_origins and is refused elsewhere.
Also the proof of work itself: a scripted POST without a solution, or with a used one, is
refused."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from altcha import Challenge, Payload, solve_challenge
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.subscribers.embed import embed_snippet
from tests.conftest import free_port
from tests.web.conftest import Server, csrf_from, mails
from tests.web.helpers import other_server, person, solve_altcha


@contextmanager
def brand_site(folder: Path, html: str) -> Iterator[str]:
    """A static page on its own loopback port: another origin than the app."""
    (folder / "index.html").write_text(html, encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _page(snippet: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Brand</title>"
        f"</head><body><h1>Our brand</h1>{snippet}</body></html>"
    )


@pytest.mark.browser
def test_the_embedded_form_works_from_an_allowed_origin_only(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    page: Any,
) -> None:
    allowed_port = free_port()
    allowed = f"http://127.0.0.1:{allowed_port}"
    overrides = {"web.embed_origins": [allowed]}
    with other_server(make_settings, db_url, engine, **overrides) as server:
        snippet = embed_snippet(server.settings, ["news"])
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        with _site_on(tmp_path / "a", _page(snippet), allowed_port) as brand:
            page.goto(brand + "/index.html")
            page.get_by_label("Email address").fill("fan@example.com")
            page.get_by_label("Yes, send me Glow Notes", exact=False).check()
            page.get_by_text("Verified", exact=True).wait_for()  # the widget solved the work
            page.get_by_role("button", name="Subscribe").click()
            page.wait_for_load_state()
            assert page.url.startswith(server.url)  # the app's own thanks page
            assert page.get_by_role("heading", name="Check your inbox").is_visible()
        assert person(engine, "fan@example.com")["lists"]["news"].status == "unconfirmed"
        assert len(mails(server.settings, "Please confirm", to="fan@example.com")) == 1

        with brand_site(tmp_path / "b", _page(snippet)) as stranger:
            assert stranger != allowed
            page.goto(stranger + "/index.html")
            page.get_by_label("Email address").fill("other@example.com")
            page.get_by_label("Yes, send me Glow Notes", exact=False).check()
            # the challenge is not served to this origin (no CORS): nothing is verified,
            # and a post sent anyway is refused
            page.get_by_role("button", name="Subscribe").click()
            page.wait_for_load_state()
        forced = httpx.post(
            f"{server.url}/subscribe",
            data={"email": "other@example.com", "consent": "yes", "lists": "news"},
            headers={"Origin": stranger},
        )
        assert forced.status_code == 403
        assert "This form cannot be used from another site." in forced.text
    assert person(engine, "other@example.com") == {}


@contextmanager
def _site_on(folder: Path, html: str, port: int) -> Iterator[str]:
    (folder / "index.html").write_text(html, encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_challenge_is_shared_only_with_allowed_origins(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    overrides = {"web.embed_origins": ["https://brand.example"]}
    with other_server(make_settings, db_url, engine, **overrides) as server:
        ok = httpx.get(
            f"{server.url}/altcha/challenge", headers={"Origin": "https://brand.example"}
        )
        assert ok.headers["access-control-allow-origin"] == "https://brand.example"
        other = httpx.get(
            f"{server.url}/altcha/challenge", headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        embedded = httpx.post(
            f"{server.url}/subscribe",
            data={
                "email": "brand@example.com",
                "consent": "yes",
                "lists": "news",
                "altcha": _solve(server),
            },
            headers={"Origin": "https://brand.example"},
        )
        assert embedded.status_code == 200  # no CSRF cookie needed from an allowed origin
        assert person(engine, "brand@example.com")["lists"]["news"].status == "unconfirmed"


def _solve(server: Server) -> str:
    with server.client() as client:
        return solve_altcha(client)


def test_a_scripted_post_without_a_solution_is_refused(server: Server) -> None:
    with server.client() as client:
        form = client.get("/subscribe")
        fields = {
            "csrf_token": csrf_from(form.text),
            "email": "script@example.com",
            "consent": "yes",
            "lists": "news",
        }
        missing = client.post("/subscribe", data=fields)
        assert missing.status_code == 403
        assert "check that you are not a robot" in missing.text
        fake = client.post("/subscribe", data={**fields, "altcha": "eyJ9"})
        assert fake.status_code == 403
        as_json = client.post(
            "/subscribe", json={"email": "script@example.com", "consent": True, "lists": ["news"]}
        )
        assert as_json.status_code == 403
        solution = solve_altcha(client)
        assert client.post("/subscribe", data={**fields, "altcha": solution}).status_code == 200
        again = client.post("/subscribe", data={**fields, "altcha": solution})  # replayed
        assert again.status_code == 403
    assert len(mails(server.settings, "Please confirm", to="script@example.com")) == 1


def test_a_solution_to_a_forged_challenge_is_refused(server: Server) -> None:
    with server.client() as client:
        real = client.get("/altcha/challenge").json()
        real["parameters"]["expiresAt"] += 86400  # make it last: the signature breaks
        challenge = Challenge.from_dict(real)
        solution = solve_challenge(challenge)
        payload = Payload(challenge, solution).to_base64() if solution else "x"
        form = client.get("/subscribe")
        answer = client.post(
            "/subscribe",
            data={
                "csrf_token": csrf_from(form.text),
                "email": "cheap@example.com",
                "consent": "yes",
                "lists": "news",
                "altcha": payload,
            },
        )
    assert answer.status_code == 403
    assert person(server.engine, "cheap@example.com") == {}


def test_the_difficulty_is_configurable(make_settings: Callable[..., Settings]) -> None:
    from pipeline.web.botcheck import new_challenge

    hard = new_challenge(make_settings(**{"web.altcha_cost": 5000}))
    assert hard["parameters"]["cost"] == 5000
    assert hard["parameters"]["algorithm"] == "PBKDF2/SHA-256"
    default = new_challenge(make_settings())
    assert default["parameters"]["cost"] == Settings().web.altcha_cost
