"""Signing in and out of the studio over real HTTP: the cookie's flags, CSRF, the limits
on failures, the session's expiry (the app's clock), and sessions that end when the
account is disabled or its password reset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine

from pipeline.accounts import audit
from pipeline.accounts.users import Account, disable_user, reset_password
from pipeline.config import Settings
from tests.studio.helpers import login, signed_in
from tests.web.conftest import Server, csrf_from
from tests.web.helpers import other_server


def test_a_page_without_a_session_goes_to_the_login_page_and_back(
    server: Server, editor: Account
) -> None:
    with server.client() as client:
        away = client.get("/admin?tab=2")
        assert away.status_code == 303
        assert away.headers["location"] == "/admin/login?next=/admin%3Ftab%3D2"
        form = client.get(away.headers["location"])
        assert form.status_code == 200 and 'value="/admin?tab=2"' in form.text
        assert "nonce-" in form.headers["content-security-policy"]
        done = login(client, editor.email, next_path="/admin?tab=2")
        assert done.status_code == 303 and done.headers["location"] == "/admin?tab=2"
        home = client.get("/admin")
        assert home.status_code == 200 and "Edie Editor" in home.text
        assert home.headers["cache-control"] == "no-store"
        # signed in, the login page sends you on
        assert client.get("/admin/login").status_code == 303


def test_the_session_cookie_is_httponly_strict_scoped_and_expires(
    server: Server, editor: Account
) -> None:
    with server.client() as client:
        done = login(client, editor.email)
        cookie = next(
            v for k, v in done.headers.multi_items() if k == "set-cookie" and "nl_studio=" in v
        )
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "path", "max-age", "samesite"} <= flags
        assert "samesite=strict" in cookie.lower() and "path=/admin" in cookie.lower()
        assert "max-age=43200" in cookie.lower()  # [studio] session_hours = 12
        assert "secure" not in flags  # plain http on loopback


def test_secure_cookie_behind_https(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, editor: Account
) -> None:
    with (
        other_server(
            make_settings, db_url, engine, **{"newsletter.base_url": "https://news.example.com"}
        ) as https_server,
        https_server.client() as client,
    ):
        form = client.get("/admin/login")
        csrf_cookie = form.cookies["nl_csrf"]  # Secure: httpx keeps it from plain http
        done = client.post(
            "/admin/login",
            data={
                "csrf_token": csrf_from(form.text),
                "email": editor.email,
                "password": "a long and fine password",
            },
            headers={"Cookie": f"nl_csrf={csrf_cookie}"},
        )
        assert done.status_code == 303
        cookie = [
            v for k, v in done.headers.multi_items() if k == "set-cookie" and "nl_studio" in v
        ]
        assert cookie and "; secure" in cookie[0].lower()


def test_next_never_leaves_the_studio(server: Server, editor: Account) -> None:
    with server.client() as client:
        for target in ("https://evil.example/", "//evil.example/admin", "/admin/login", "/x"):
            done = login(client, editor.email, next_path=target)
            assert done.headers["location"] == "/admin", target
            client.cookies.clear()


def test_wrong_password_says_so_and_is_audited(server: Server, editor: Account) -> None:
    with server.client() as client:
        refused = login(client, editor.email, password="not the password")
        assert refused.status_code == 401
        assert "Wrong email address or password" in refused.text
        assert "nl_studio" not in refused.headers.get("set-cookie", "")
        assert client.get("/admin").status_code == 303
    entry = audit.recent(server.engine, 1)[0]
    assert (entry.action, entry.target, (entry.detail or {})["ip"]) == (
        "login.failed",
        editor.email,
        "127.0.0.1",
    )


def test_login_without_a_valid_csrf_token_is_refused(server: Server, editor: Account) -> None:
    with server.client() as client:
        form = client.get("/admin/login")
        data = {"email": editor.email, "password": "a long and fine password"}
        assert client.post("/admin/login", data=data).status_code == 403
        forged = {**data, "csrf_token": csrf_from(form.text)[:-2] + "xx"}
        assert client.post("/admin/login", data=forged).status_code == 403
    with server.client() as other:  # a token from another visitor's page: no cookie to match
        assert (
            other.post(
                "/admin/login", data={**data, "csrf_token": csrf_from(form.text)}
            ).status_code
            == 403
        )
    assert audit.recent(server.engine, 5, action="login") == []


def test_logout_needs_csrf_and_ends_the_session(server: Server, editor: Account) -> None:
    with server.client() as client:
        signed_in(client, editor.email)
        page = client.get("/admin")
        assert client.post("/admin/logout", data={}).status_code == 403
        assert client.get("/admin").status_code == 200
        out = client.post("/admin/logout", data={"csrf_token": csrf_from(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/admin/login"
        assert client.get("/admin").status_code == 303
    assert audit.recent(server.engine, 1)[0].action == "logout"


def test_lockout_per_account_answers_429(server: Server, editor: Account) -> None:
    limit = server.settings.studio.login_max_failures
    with server.client() as client:
        for _ in range(limit):
            assert login(client, editor.email, password="guess guess").status_code == 401
        locked = login(client, editor.email)  # the right password, too late
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "Too many failed sign-ins" in locked.text
        server.clock.advance(timedelta(seconds=server.settings.studio.login_window + 1))
        assert login(client, editor.email).status_code == 303


def test_lockout_per_ip(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine, editor: Account
) -> None:
    with (
        other_server(
            make_settings, db_url, engine, **{"studio.login_ip_max_failures": 3}
        ) as strict,
        strict.client() as client,
    ):
        for n in range(3):
            assert login(client, f"nobody{n}@example.com", "guess guess").status_code == 401
        assert login(client, editor.email).status_code == 429


def test_the_session_expires_with_the_apps_clock(server: Server, editor: Account) -> None:
    with server.client() as client:
        signed_in(client, editor.email)
        server.clock.advance(timedelta(hours=11, minutes=59))
        assert client.get("/admin").status_code == 200
        server.clock.advance(timedelta(minutes=2))
        assert client.get("/admin").status_code == 303


def test_disabling_or_resetting_ends_open_sessions(
    server: Server, editor: Account, approver: Account
) -> None:
    with server.client() as first, server.client() as second:
        signed_in(first, editor.email)
        signed_in(second, approver.email)
        disable_user(server.engine, editor.email)
        assert first.get("/admin").status_code == 303
        assert "disabled" in login(first, editor.email).text
        reset_password(server.engine, approver.email, "another fine password")
        assert second.get("/admin").status_code == 303


def test_a_forged_or_foreign_session_cookie_is_refused(server: Server, editor: Account) -> None:
    with server.client() as client:
        signed_in(client, editor.email)
        value = client.cookies.get("nl_studio")
        assert value
    with server.client() as other:
        other.cookies.set("nl_studio", value[:-1] + ("0" if value[-1] != "0" else "1"))
        assert other.get("/admin").status_code == 303
        other.cookies.set("nl_studio", editor.public_id)
        assert other.get("/admin").status_code == 303
