"""Signing in to the studio like a browser does (the CSRF cookie and token, then the form)."""

from __future__ import annotations

import httpx

from tests.studio.conftest import PASSWORD
from tests.web.conftest import csrf_from


def login(
    client: httpx.Client, email: str, password: str = PASSWORD, next_path: str = ""
) -> httpx.Response:
    form = client.get("/admin/login")
    assert form.status_code == 200, form.text
    return client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_from(form.text),
            "email": email,
            "password": password,
            "next": next_path,
        },
    )


def signed_in(client: httpx.Client, email: str) -> httpx.Client:
    done = login(client, email)
    assert done.status_code == 303, done.text
    return client
