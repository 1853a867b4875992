"""Signing in and out of the studio in Debian's chromium: the redirect to the login page
and back, a wrong password, the cookie the browser keeps, signing out, and no CSP
violation on the way."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.accounts.users import Account
from tests.studio.conftest import PASSWORD
from tests.web.conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_login_and_logout_in_the_browser(server: Server, editor: Account, page: Any) -> None:
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{server.url}/admin")
    assert page.url == f"{server.url}/admin/login"
    assert page.title() == "Sign in · Glow Notes"

    page.get_by_label("Email address").fill(editor.email)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").inner_text().startswith("Wrong email address or password")
    assert page.get_by_label("Email address").input_value() == editor.email

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # the keyboard works as well as the button
    page.wait_for_load_state()
    assert page.url == f"{server.url}/admin"
    assert page.get_by_role("heading", name="Dashboard").is_visible()  # the studio's home
    [cookie] = [c for c in page.context.cookies() if c["name"] == "nl_studio"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    assert page.evaluate("document.cookie") == ""  # nothing a script on the page can read

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.url == f"{server.url}/admin/login"
    assert not [c for c in page.context.cookies() if c["name"] == "nl_studio"]
    page.goto(f"{server.url}/admin")
    assert page.url == f"{server.url}/admin/login"
    assert problems == []
