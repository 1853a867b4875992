"""The subscribers' pages: search, one person's record, edit (name, lists, tags, fields),
unsubscribe, erase after a confirmation (admins only), CSV import (admins) and export,
segment counts; each action in the audit log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from pipeline.accounts import audit
from pipeline.accounts.users import Account
from pipeline.subscribers import service
from tests.studio.helpers import signed_in
from tests.web.conftest import Server, csrf_from


@contextmanager
def client_for(server: Server, who: Account) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield signed_in(client, who.email)


def add(server: Server, email: str, name: str = "") -> str:
    service.add_subscriber(
        server.engine, email, name=name, lists=["beauty-tips"], method="cli", confirmed=True
    )
    info = service.get_subscriber(server.engine, email=email)
    assert info is not None
    return info.public_id


def test_search_view_and_edit(server: Server, editor: Account) -> None:
    pid = add(server, "ann.lee@example.com", "Ann Lee")
    add(server, "bob@example.com", "Bob")
    with client_for(server, editor) as client:
        found = client.get("/admin/subscribers", params={"q": "LEE"})
        assert found.status_code == 200
        assert "ann.lee@example.com" in found.text and "bob@example.com" not in found.text
        assert "2 people receive an issue" in found.text
        person = client.get(f"/admin/subscribers/{pid}")
        assert person.status_code == 200 and "Consent and history" in person.text
        saved = client.post(
            f"/admin/subscribers/{pid}/edit",
            data={
                "csrf_token": csrf_from(person.text),
                "name": "Ann Lee-Smith",
                "lists": ["beauty-tips", "news"],
                "tags": "vip, Oily skin",
                "new_field": "skin_type",
                "new_value": "oily",
            },
        )
        assert saved.status_code == 303
        info = service.get_subscriber(server.engine, public_id=pid)
        assert info is not None and info.name == "Ann Lee-Smith"
        assert info.subscriptions == {"beauty-tips": "confirmed", "news": "confirmed"}
        assert sorted(info.tags) == ["oily skin", "vip"] and info.attributes == {
            "skin_type": "oily"
        }
        page = client.get(f"/admin/subscribers/{pid}")
        removed = client.post(
            f"/admin/subscribers/{pid}/edit",
            data={
                "csrf_token": csrf_from(page.text),
                "name": "Ann Lee-Smith",
                "lists": ["news"],
                "tags": "vip",
                "field:skin_type": "",
            },
        )
        assert removed.status_code == 303
        info = service.get_subscriber(server.engine, public_id=pid)
        assert info is not None and info.attributes == {} and info.tags == ["vip"]
        assert info.subscriptions["beauty-tips"] == "unsubscribed"
        out = client.post(
            f"/admin/subscribers/{pid}/unsubscribe",
            data={"csrf_token": csrf_from(page.text)},
        )
        assert out.status_code == 303
        info = service.get_subscriber(server.engine, public_id=pid)
        assert info is not None and "confirmed" not in info.subscriptions.values()
        assert client.get("/admin/subscribers/nobody-such").status_code == 404
    actions = [
        e.action for e in audit.recent(server.engine, 20) if e.target == "ann.lee@example.com"
    ]
    assert "subscriber.update" in actions and "subscriber.unsubscribe" in actions


def test_erase_needs_an_admin_and_a_confirmation(
    server: Server, editor: Account, admin: Account
) -> None:
    pid = add(server, "gone@example.com")
    with client_for(server, editor) as client:
        page = client.get(f"/admin/subscribers/{pid}")
        assert "Erase (GDPR)" not in page.text
        refused = client.post(
            f"/admin/subscribers/{pid}/erase",
            data={"csrf_token": csrf_from(page.text), "confirm": "yes"},
        )
        assert refused.status_code == 403
    with client_for(server, admin) as client:
        page = client.get(f"/admin/subscribers/{pid}")
        ask = client.post(
            f"/admin/subscribers/{pid}/erase", data={"csrf_token": csrf_from(page.text)}
        )
        assert ask.status_code == 200 and "Yes, erase everything" in ask.text
        assert service.get_subscriber(server.engine, public_id=pid) is not None
        done = client.post(
            f"/admin/subscribers/{pid}/erase",
            data={"csrf_token": csrf_from(page.text), "confirm": "yes"},
        )
        assert done.status_code == 200 and "suppressed for good" in done.text
    assert service.get_subscriber(server.engine, public_id=pid) is None
    assert not [e for e in audit.recent(server.engine, 50) if e.target == "gone@example.com"]


def test_import_and_export(server: Server, editor: Account, admin: Account) -> None:
    csv = b"email,name\nnew.one@example.com,New One\nnot an address,Bad\n"
    with client_for(server, editor) as client:
        page = client.get("/admin/subscribers")
        refused = client.post(
            "/admin/subscribers/import",
            data={"csrf_token": csrf_from(page.text), "lists": "news"},
            files={"file": ("people.csv", csv, "text/csv")},
        )
        assert refused.status_code == 403
    with client_for(server, admin) as client:
        page = client.get("/admin/subscribers")
        started = client.post(
            "/admin/subscribers/import",
            data={"csrf_token": csrf_from(page.text), "lists": "news"},
            files={"file": ("people.csv", csv, "text/csv")},
        )
        assert started.status_code == 303, started.text
        job_page = client.get(started.headers["location"])
        assert job_page.status_code == 200 and "Import" in job_page.text
        progress = started.headers["location"] + "/progress"
        for _ in range(200):  # the import runs in a thread: follow it as the page does
            fragment = client.get(progress).text
            if "hx-get" not in fragment:
                break
            threading.Event().wait(0.05)
        assert "Imported 2 rows: 1 added" in fragment and "1 rejected" in fragment
        assert client.get("/admin/subscribers/imports/0123456789abcdef").status_code == 404
        assert client.get("/admin/subscribers/imports/..%2Fx").status_code == 404
        exported = client.get("/admin/subscribers/export.csv")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith(
            "text/csv"
        )
        assert "new.one@example.com" in exported.text
    info = service.get_subscriber(server.engine, email="new.one@example.com")
    assert info is not None and info.subscriptions == {"news": "confirmed"}
