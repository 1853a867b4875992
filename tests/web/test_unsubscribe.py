"""Unsubscribe (page and RFC 8058 one-click) and the preferences page, over real HTTP."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from pipeline.store.tables import delivery_events
from pipeline.subscribers import service
from pipeline.tokens import make_token
from tests.web.conftest import Server, csrf_from
from tests.web.helpers import person


def _subscriber(server: Server, email: str = "kim@example.com", name: str = "Kim") -> str:
    """A confirmed subscriber's public id (what links carry)."""
    result = service.add_subscriber(
        server.engine,
        email,
        name=name,
        lists=["beauty-tips", "news"],
        method="cli",
        confirmed=True,
    )
    info = service.get_subscriber(server.engine, subscriber_id=result.subscriber_id)
    assert info is not None
    return info.public_id


def _token(server: Server, purpose: str, public_id: str) -> str:
    return make_token(server.settings.keys, purpose, public_id)


def test_the_unsubscribe_page_changes_nothing_and_the_button_does(server: Server) -> None:
    sid = _subscriber(server)
    path = f"/unsubscribe/{_token(server, 'unsubscribe', sid)}"
    with server.client() as client:
        shown = client.get(path)
        assert shown.status_code == 200
        assert "Unsubscribe from Glow Notes?" in shown.text
        assert "ki***@example.com" in shown.text
        assert shown.text.count("<button") == 1
        assert person(server.engine, "kim@example.com")["status"] == "active"

        done = client.post(path, data={"csrf_token": csrf_from(shown.text)})
        assert done.status_code == 200
        assert "You're unsubscribed" in done.text
        assert "Resubscribe to Beauty tips, Beauty news" in done.text
    kim = person(server.engine, "kim@example.com")
    assert kim["status"] == "unsubscribed"
    assert {s.status for s in kim["lists"].values()} == {"unsubscribed"}
    assert service.is_suppressed(server.engine, "kim@example.com")


def test_one_click_post_needs_no_cookie_and_answers_200(server: Server) -> None:
    sid = _subscriber(server)
    token = make_token(server.settings.keys, "unsubscribe", sid)
    answer = httpx.post(
        f"{server.url}/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code == 200
    assert answer.text == "You are unsubscribed.\n"
    assert "set-cookie" not in answer.headers
    assert person(server.engine, "kim@example.com")["status"] == "unsubscribed"
    with server.engine.connect() as conn:
        events = conn.execute(select(delivery_events.c.event, delivery_events.c.detail)).all()
    assert [(e.event, e.detail) for e in events] == [("unsubscribe", {"source": "one-click"})]

    again = httpx.post(
        f"{server.url}/unsubscribe/{token}",
        files={"List-Unsubscribe": (None, "One-Click")},  # multipart, as RFC 8058 allows
    )
    assert again.status_code == 200
    bare = httpx.post(f"{server.url}/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert (bare.status_code, bare.text) == (200, "You are unsubscribed.\n")
    with server.engine.connect() as conn:  # counted once
        assert len(conn.execute(select(delivery_events.c.id)).all()) == 1


def test_unsubscribe_without_csrf_token_or_with_a_bad_link(server: Server) -> None:
    sid = _subscriber(server)
    path = f"/unsubscribe/{_token(server, 'unsubscribe', sid)}"
    with server.client() as client:
        client.get(path)
        refused = client.post(path, data={"csrf_token": "forged"})
        assert refused.status_code == 403
        assert "This page had expired. Please press the button again." in refused.text
        assert person(server.engine, "kim@example.com")["status"] == "active"

        wrong_purpose = client.get(f"/unsubscribe/{_token(server, 'preferences', sid)}")
        assert wrong_purpose.status_code == 400
        assert "Sorry, this link is not valid (copy the whole link from the email)." in (
            wrong_purpose.text
        )
    one_click_bad = httpx.post(
        f"{server.url}/unsubscribe/garbage",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click_bad.status_code == 400
    assert one_click_bad.text == ("this link is not valid (copy the whole link from the email)\n")


def test_preferences_change_name_and_lists_then_leave_and_come_back(server: Server) -> None:
    sid = _subscriber(server)
    path = f"/preferences/{_token(server, 'preferences', sid)}"
    with server.client() as client:
        shown = client.get(path)
        assert shown.status_code == 200
        assert 'value="Kim"' in shown.text
        token = csrf_from(shown.text)
        saved = client.post(
            path,
            data={"csrf_token": token, "action": "save", "name": "Kim Park", "lists": ["news"]},
        )
        assert saved.status_code == 200
        assert "Saved. You are subscribed to Beauty news." in saved.text
        kim = person(server.engine, "kim@example.com")
        assert kim["name"] == "Kim Park"
        assert {k: v.status for k, v in kim["lists"].items()} == {
            "beauty-tips": "unsubscribed",
            "news": "confirmed",
        }

        left = client.post(path, data={"csrf_token": token, "action": "unsubscribe"})
        assert "You're unsubscribed" in left.text
        assert person(server.engine, "kim@example.com")["status"] == "unsubscribed"

        back = client.post(
            path,
            data={"csrf_token": csrf_from(left.text), "action": "resubscribe", "lists": "news"},
        )
        assert "Saved. You are subscribed to Beauty news." in back.text
    kim = person(server.engine, "kim@example.com")
    assert kim["status"] == "active"
    assert kim["lists"]["news"].status == "confirmed"
    assert not service.is_suppressed(server.engine, "kim@example.com")


def test_preferences_refuse_a_missing_csrf_token_and_empty_choices(server: Server) -> None:
    sid = _subscriber(server)
    path = f"/preferences/{_token(server, 'preferences', sid)}"
    with server.client() as client:
        shown = client.get(path)
        refused = client.post(path, data={"action": "save", "name": "X", "lists": "news"})
        assert refused.status_code == 403
        assert "This page had expired. Please make your choice again." in refused.text
        odd = client.post(path, data={"csrf_token": csrf_from(shown.text), "action": "dance"})
        assert odd.status_code == 422
        assert "Please choose at least one list." in odd.text
    assert person(server.engine, "kim@example.com")["name"] == "Kim"
