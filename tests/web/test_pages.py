"""The app's one handler for a NewsletterError that leaves a route (``pages.newsletter_error``):
the right status, a page for people and JSON for programs, the security headers, and no
internals for server-side errors. The real routes let their token errors through to it."""

from __future__ import annotations

import pytest

from pipeline.errors import (
    ConfigError,
    NewsletterError,
    RenderError,
    SendError,
    StoreError,
    SubscriberError,
    TransportError,
    WebError,
)
from tests.web.conftest import Server

JSON = {"Accept": "application/json"}


@pytest.mark.parametrize(
    ("error", "status", "shown"),
    [
        (WebError("this link is not valid", fix="copy the whole link"), 400, True),
        (SubscriberError("that is not an email address"), 400, True),
        (StoreError("cannot open the database: secret-host:5432"), 503, False),
        (SendError("the welcome email could not be sent: relay said 451"), 503, False),
        (TransportError("smtp.example refused the login for bob"), 503, False),
        (ConfigError("no web templates in /srv/secret"), 500, False),
        (RenderError("templates/web/x.html:3: unknown variable"), 500, False),
    ],
)
def test_a_newsletter_error_leaving_a_route_gets_one_answer(
    server: Server, error: NewsletterError, status: int, shown: bool
) -> None:
    @server.app.get("/raise")
    async def raising() -> None:
        raise error

    with server.client() as client:
        page = client.get("/raise")
        data = client.get("/raise", headers=JSON)
    assert page.status_code == data.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "Traceback" not in page.text
    assert data.headers["content-type"] == "application/json"
    message = data.json()["error"]
    if shown:
        assert message == f"Sorry, {error}."
        assert f"Sorry, {error}." in page.text.replace("&#39;", "'")
    else:
        assert str(error) not in page.text and str(error) not in message
        assert message in page.text
    if status == 503:
        assert page.headers["retry-after"] == "300"


def test_bad_links_reach_the_handler_from_every_token_route(server: Server) -> None:
    expected = "Sorry, this link is not valid (copy the whole link from the email)."
    with server.client() as client:
        for path in ("/preferences/x.y.z.w", "/unsubscribe/x.y.z.w", "/confirm/x.y.z.w"):
            page = client.get(path)
            assert (page.status_code, path) == (400, path)
            assert expected in page.text
            data = client.get(path, headers=JSON)
            assert (data.status_code, data.json()) == (400, {"error": expected})
        # a mail provider's one-click POST still gets plain text
        one_click = client.post(
            "/unsubscribe/x.y.z.w",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code == 400
        assert one_click.headers["content-type"].startswith("text/plain")
