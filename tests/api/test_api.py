"""The HTTP API over real HTTP: bearer tokens and roles, JSON errors, and round trips
through issues (check, submit, approve, schedule, unschedule), subscribers (create, get,
update, tag, unsubscribe, erase), imports and stats; each step in the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.accounts import audit
from pipeline.accounts.apitokens import revoke_token
from pipeline.sending.editions import find_edition
from tests.api.conftest import Client
from tests.web.conftest import Server

SLUG = "2026-12-01-microneedling"


def test_no_token_a_wrong_one_or_a_revoked_one_is_401(
    server: Server, tokens: dict[str, str]
) -> None:
    with server.client() as client:
        bare = client.get("/api/v1/issues")
        assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Bearer")
        assert "newsletter tokens create" in bare.json()["error"]
        wrong = client.get("/api/v1/issues", headers={"Authorization": "Bearer nlt_" + "A" * 43})
        assert wrong.status_code == 401 and "invalid_token" in wrong.headers["www-authenticate"]
        basic = client.get("/api/v1/issues", headers={"Authorization": "Basic dXNlcjpwdw=="})
        assert basic.status_code == 401
        revoke_token(server.engine, "editor-bot")
        gone = client.get("/api/v1/issues", headers={"Authorization": f"Bearer {tokens['editor']}"})
        assert gone.status_code == 401 and "revoked" in gone.json()["error"]


def test_roles_limit_what_a_token_does(api: Client) -> None:
    editor = api("editor")
    assert editor.get("/api/v1/issues").status_code == 200
    refused = editor.post(f"/api/v1/issues/{SLUG}/approve")
    assert refused.status_code == 403 and "approver role" in refused.json()["error"]
    assert editor.delete("/api/v1/subscribers/a@example.com").status_code == 403
    assert editor.post("/api/v1/imports", content=b"email\na@example.com\n").status_code == 403


def test_errors_are_json(api: Client) -> None:
    client = api("editor")
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
    assert client.get("/api/v1/issues/no-such-issue").json() == {
        "error": "no issue 'no-such-issue': there is no folder issues/no-such-issue"
    }
    assert client.get("/api/v1/issues/Bad..Slug").status_code == 404
    bad = client.post(f"/api/v1/issues/{SLUG}/schedule", json={"fold": 5})
    assert bad.status_code == 400 and bad.json()["error"].startswith("fold:")
    not_json = client.post(
        "/api/v1/subscribers", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400 and "error" in not_json.json()


def test_subscriber_round_trip(api: Client, server: Server) -> None:
    editor, admin = api("editor"), api("admin")
    made = editor.post(
        "/api/v1/subscribers",
        json={
            "email": "Jo@Example.com",
            "name": "Jo",
            "lists": ["beauty-tips"],
            "fields": {"skin_type": "oily"},
            "tags": ["VIP"],
        },
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["email"], body["status"], body["subscriptions"], body["fields"], body["tags"]) == (
        "jo@example.com",
        "active",
        {"beauty-tips": "confirmed"},
        {"skin_type": "oily"},
        ["vip"],
    )
    assert editor.get("/api/v1/subscribers/JO@example.com").json() == body
    changed = editor.patch(
        "/api/v1/subscribers/jo@example.com",
        json={
            "name": "Joanna",
            "lists": ["beauty-tips", "news"],
            "fields": {"skin_type": None, "city": "Leeds"},
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Joanna"
    assert changed.json()["fields"] == {"city": "Leeds"}
    assert changed.json()["subscriptions"] == {"beauty-tips": "confirmed", "news": "confirmed"}
    tagged = editor.post(
        "/api/v1/subscribers/jo@example.com/tags", json={"add": ["oily skin"], "remove": ["vip"]}
    )
    assert tagged.json()["tags"] == ["oily skin"]
    out = editor.post("/api/v1/subscribers/jo@example.com/unsubscribe", json={"lists": ["news"]})
    assert out.json()["subscriptions"]["news"] == "unsubscribed"
    assert out.json()["status"] == "active"
    assert (
        editor.post(
            "/api/v1/subscribers", json={"email": "x@example.com", "lists": ["nope"]}
        ).status_code
        == 400
    )
    everything = editor.post("/api/v1/subscribers/jo@example.com/unsubscribe", json={})
    assert everything.json()["status"] == "unsubscribed"
    again = editor.post("/api/v1/subscribers", json={"email": "jo@example.com", "lists": ["news"]})
    assert again.status_code == 409 and "suppressed" in again.json()["error"]

    erased = admin.delete("/api/v1/subscribers/jo@example.com")
    assert erased.status_code == 200 and erased.json()["found"] is True
    assert editor.get("/api/v1/subscribers/jo@example.com").status_code == 404
    entries = audit.recent(server.engine, 50)
    assert "jo@example.com" not in [e.target for e in entries]  # erased from the log too
    actions = [
        e.action for e in reversed(entries) if e.actor in ("token:editor-bot", "token:admin-bot")
    ]
    assert actions == [
        "subscriber.add",
        "subscriber.view",
        "subscriber.update",
        "subscriber.tag",
        "subscriber.unsubscribe",
        "subscriber.unsubscribe",
        "subscriber.erase",
    ]
    assert entries[0].detail == {"found": True, "ip": "127.0.0.1", "via": "api"}


def test_import_a_csv(api: Client) -> None:
    admin = api("admin")
    csv = b"email,name\nana@example.com,Ana\nben@example.com,Ben\nnot an address,X\n"
    done = admin.post(
        "/api/v1/imports?lists=news", content=csv, headers={"content-type": "text/csv"}
    )
    assert done.status_code == 200, done.text
    report = done.json()
    assert (report["rows"], report["added"], report["rejected"]) == (3, 2, 1)
    assert admin.get("/api/v1/subscribers/ben@example.com").json()["subscriptions"] == {
        "news": "confirmed"
    }
    assert admin.post("/api/v1/imports", content=b"").status_code == 400


def test_issue_round_trip_check_submit_approve_schedule_unschedule(
    api: Client, server: Server
) -> None:
    editor, approver = api("editor"), api("approver")
    editor.post(
        "/api/v1/subscribers",
        json={"email": "reader@example.com", "lists": ["beauty-tips", "news"]},
    )
    listed = editor.get("/api/v1/issues").json()
    assert SLUG in [i["slug"] for i in listed]
    issue = editor.get(f"/api/v1/issues/{SLUG}").json()
    assert issue["state"] == "draft" and issue["review"] is None
    checked = editor.post(f"/api/v1/issues/{SLUG}/check")
    assert checked.status_code == 200 and checked.json()["ok"] is True, checked.text

    submitted = editor.post(f"/api/v1/issues/{SLUG}/submit")
    assert submitted.status_code == 200 and submitted.json()["state"] == "in_review"
    assert submitted.json()["submitted_by"] == "token:editor-bot"
    twice = editor.post(f"/api/v1/issues/{SLUG}/submit")
    assert twice.status_code == 409 and "already in review" in twice.json()["error"]
    approved = approver.post(f"/api/v1/issues/{SLUG}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "token:approver-bot"

    when = (server.clock.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    scheduled = editor.post(f"/api/v1/issues/{SLUG}/schedule", json={"at": when, "timezone": "UTC"})
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["send_at"].startswith(
        (server.clock.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    )
    assert editor.get(f"/api/v1/issues/{SLUG}").json()["state"] == "scheduled"
    already = editor.post(f"/api/v1/issues/{SLUG}/schedule", json={"at": when})
    assert already.status_code == 409 and "already scheduled" in already.json()["error"]
    assert editor.get(f"/api/v1/issues/{SLUG}/stats").json()["sent"] == 0

    off = editor.post(f"/api/v1/issues/{SLUG}/unschedule")
    assert off.status_code == 200 and off.json() == {"slug": SLUG, "status": "frozen"}
    edition = find_edition(server.engine, SLUG)
    assert edition is not None and edition.status == "frozen"
    past = editor.post(f"/api/v1/issues/{SLUG}/schedule", json={"at": "2020-01-01 09:00"})
    assert past.status_code == 409
    assert editor.post(f"/api/v1/issues/{SLUG}/unschedule").status_code == 409

    mine = [
        (e.action, e.target)
        for e in reversed(audit.recent(server.engine, 50))
        if e.actor.startswith("token:") and e.action.startswith("issue.")
    ]
    assert mine == [
        ("issue.check", SLUG),
        ("issue.submit", SLUG),
        ("issue.approve", SLUG),
        ("issue.schedule", SLUG),
        ("issue.unschedule", SLUG),
    ]


def test_reject_sends_it_back_with_the_reason(api: Client, server: Server) -> None:
    editor, approver = api("editor"), api("approver")
    assert editor.post(f"/api/v1/issues/{SLUG}/submit").status_code == 200
    assert editor.post(f"/api/v1/issues/{SLUG}/reject", json={"reason": "x"}).status_code == 403
    assert approver.post(f"/api/v1/issues/{SLUG}/reject", json={"reason": ""}).status_code == 400
    rejected = approver.post(
        f"/api/v1/issues/{SLUG}/reject", json={"reason": "The second article needs a source."}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["label"] == "rejected"
    assert rejected.json()["rejection"]["reason"] == "The second article needs a source."
    again = approver.post(f"/api/v1/issues/{SLUG}/reject", json={"reason": "still"})
    assert again.status_code == 409
    assert audit.recent(server.engine, 1, action="issue.reject")[0].actor == "token:approver-bot"


def test_bodies_are_capped_and_the_refusal_is_json(api: Client) -> None:
    big = api("editor").post(
        "/api/v1/subscribers",
        content=b'{"email": "' + b"a" * 70_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json() == {
        "error": "This request is larger than this address accepts."
    }
    odd = api("editor").get("/api/v1/issues/%00")
    assert odd.status_code == 404 and odd.headers["content-type"] == "application/json"


def test_a_token_cannot_approve_what_it_submitted(
    api: Client, server: Server, tokens: dict[str, str]
) -> None:
    approver = api("approver")
    assert approver.post(f"/api/v1/issues/{SLUG}/submit").status_code == 200
    own = approver.post(f"/api/v1/issues/{SLUG}/approve")
    assert own.status_code == 409 and "cannot approve it too" in own.json()["error"]


@pytest.mark.parametrize("query", ["", "?issues=3&weeks=4"])
def test_stats(api: Client, query: str) -> None:
    done = api("editor").get(f"/api/v1/stats{query}")
    assert done.status_code == 200, done.text
    assert set(done.json()) == {"issues", "growth"}
    assert api("editor").get(f"/api/v1/issues/{SLUG}/stats").status_code == 404  # never sent
    assert api("editor").get("/api/v1/stats?issues=0").status_code == 400
