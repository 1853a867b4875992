"""The archive (pages, images, Atom feed) and what every response promises: security
headers, error pages without tracebacks, no open redirects."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from sqlalchemy import update

from pipeline.store.tables import editions
from pipeline.web.security import FORM_CSP, SECURITY_HEADERS
from tests.web.conftest import Server
from tests.web.helpers import sent_edition

ATOM = "{http://www.w3.org/2005/Atom}"
WEB_HTML = (
    "<!doctype html><html><head><style>.x{color:red}</style></head>"
    "<body><h1>Autumn serums</h1><p>Read on.</p></body></html>"
)


def tokenless(page: str) -> str:
    """A page without its CSRF token (each page's signup box gets a fresh one)."""
    return re.sub(r'name="csrf_token" value="[^"]*"', "", page)


def test_archive_lists_only_sent_issues(server: Server) -> None:
    sent_edition(server.engine, "2026-11-01-serums", web_html=WEB_HTML)
    draft = sent_edition(server.engine, "2026-12-15-draft", web_html=WEB_HTML)
    with server.engine.begin() as conn:
        conn.execute(update(editions).where(editions.c.id == draft).values(status="frozen"))
    with server.client() as client:
        index = client.get("/")
        assert index.status_code == 200
        assert 'href="/issues/2026-11-01-serums"' in index.text
        assert "Issue 2026-11-01-serums" in index.text
        assert "2026-12-15-draft" not in index.text
        assert tokenless(client.get("/archive").text) == tokenless(index.text)

        issue = client.get("/issues/2026-11-01-serums")
        assert issue.status_code == 200
        assert "<style>.x{color:red}</style><h1>Autumn serums</h1>" in issue.text
        assert "<title>Issue 2026-11-01-serums · Glow Notes</title>" in issue.text
        for alias in ("/archive/2026-11-01-serums/", "/archive/2026-11-01-serums"):
            assert tokenless(client.get(alias).text) == tokenless(issue.text)

        for path in ("/issues/2026-12-15-draft", "/issues/nothing-here"):
            missing = client.get(path)
            assert missing.status_code == 404
            assert "There is no sent issue at this address." in missing.text
        assert client.get("/issues/..%2f..").status_code == 404


def test_atom_feed(server: Server) -> None:
    sent_edition(server.engine, "2026-11-01-serums", web_html=WEB_HTML)
    with server.client() as client:
        answer = client.get("/feed.xml")
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(answer.content)
    assert feed.findtext(f"{ATOM}title") == "Glow Notes"
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Issue 2026-11-01-serums"
    assert entry.findtext(f"{ATOM}id") == f"{server.url}/issues/2026-11-01-serums"
    link = entry.find(f"{ATOM}link")
    assert link is not None and link.get("href") == f"{server.url}/issues/2026-11-01-serums"


def test_issue_images_are_served_from_the_issue_folder_only(server: Server) -> None:
    slug = "2026-12-01-microneedling"
    image = server.settings.issues_dir / slug / "images" / "glow.png"
    with server.client() as client:
        before = client.get(f"/archive/{slug}/images/glow.png")
        assert before.status_code == 404  # not frozen yet: nothing is public
        sent_edition(server.engine, slug)
        served = client.get(f"/archive/{slug}/images/glow.png")
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/png"
        assert served.content == image.read_bytes()
        for path in ("issue.md", "../../newsletter.toml", "images/../issue.md", "%2e%2e/x.png"):
            assert client.get(f"/archive/{slug}/{path}").status_code == 404


def test_security_headers_on_every_response(server: Server) -> None:
    with server.client() as client:
        answers = [
            client.get("/subscribe"),
            client.get("/nowhere"),
            client.get("/feed.xml"),
            client.get("/unsubscribe/bad"),
            client.post("/webhooks/sendgrid", content=b"[]"),
        ]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            if answer.url.path == "/subscribe" and name == "Content-Security-Policy":
                value = FORM_CSP  # the form runs the app's own ALTCHA widget, nothing else
            assert answer.headers[name] == value
        assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
    assert "script-src 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self';" in FORM_CSP and "unsafe-eval" not in FORM_CSP


def test_errors_show_a_page_without_a_traceback(server: Server) -> None:
    @server.app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    with server.client() as client:
        crashed = client.get("/boom")
        missing = client.get("/no/such/page")
        wrong_method = client.delete("/subscribe")
    assert crashed.status_code == 500
    assert "Something went wrong" in crashed.text
    assert "secret internals" not in crashed.text and "Traceback" not in crashed.text
    assert crashed.headers["x-content-type-options"] == "nosniff"
    assert missing.status_code == 404
    assert "There is nothing at this address." in missing.text
    assert wrong_method.status_code == 405
    assert "This page cannot be used that way." in wrong_method.text


def test_no_open_redirects(server: Server) -> None:
    with server.client() as client:
        for path in (
            "/subscribe?next=https://evil.example",
            "//evil.example/",
            "/confirm/x?lists=news&next=https://evil.example",
            "/archive/https:%2F%2Fevil.example/",
            "/subscribe/",
        ):
            answer = client.get(path, headers={"Host": "evil.example"})
            assert answer.status_code < 300 or answer.status_code >= 400
            assert "location" not in answer.headers
