"""The studio's pages over HTTP, as a browser without JavaScript uses them: the dashboard,
creating and saving files (a stale save refused, 409, with the other's text), the issue
page (schedule in the newsletter's zone, reschedule, unschedule, cancel after a
confirmation, a test copy to yourself, the progress fragment), results and their charts,
and CSRF on every form. Each action is in the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine, select

from pipeline.accounts.users import Account
from pipeline.content.editing import read_file
from pipeline.sending.editions import find_edition, freeze_edition
from pipeline.sending.engine import send_edition
from pipeline.store.tables import audit_log
from pipeline.subscribers import service
from tests.studio.helpers import signed_in
from tests.web.conftest import Server, csrf_from, mails

SLUG = "2026-12-01-microneedling"


@contextmanager
def client_for(server: Server, who: Account) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield signed_in(client, who.email)


def post(client: httpx.Client, path: str, data: dict[str, str], page: str = "") -> httpx.Response:
    """POST a form of ``page`` (default: ``path``'s page) with its CSRF token."""
    source = client.get(page or path)
    assert source.status_code == 200, source.text
    return client.post(path, data={"csrf_token": csrf_from(source.text), **data})


def actions(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.target).order_by(
                audit_log.c.id
            )
        ).all()
    return [(r.actor, r.action, r.target) for r in rows if r.action.startswith("issue.")]


def test_the_dashboard_shows_issues_and_the_list(server: Server, editor: Account) -> None:
    service.add_subscriber(
        server.engine, "reader@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    with client_for(server, editor) as client:
        page = client.get("/admin")
    assert page.status_code == 200
    assert SLUG in page.text and ">draft<" in page.text
    assert "reader@example.com" in page.text  # the latest signups
    assert "1 people receive an issue" in page.text
    assert "script-src 'self' 'nonce-" in page.headers["content-security-policy"]


def test_create_edit_and_a_stale_save(server: Server, editor: Account, approver: Account) -> None:
    with client_for(server, editor) as ana, client_for(server, approver) as bo:
        made = post(ana, "/admin/issues/new", {"slug": "2026-12-20-new", "subject": "New!"})
        assert made.status_code == 303 and made.headers["location"].endswith("/2026-12-20-new/edit")
        assert post(ana, "/admin/issues/new", {"slug": "2026-12-20-new"}).status_code == 422
        page = ana.get("/admin/issues/2026-12-20-new/edit?file=articles/01-first-article.md")
        assert page.status_code == 200 and "Your first article" in page.text
        version = re.search(r'name="version" value="([0-9a-f]+)"', page.text)
        assert version is not None
        text, _ = read_file(server.settings, "2026-12-20-new", "articles/01-first-article.md")
        form = {"file": "articles/01-first-article.md", "version": version.group(1)}
        page_url = "/admin/issues/2026-12-20-new/edit?file=articles/01-first-article.md"
        saved = post(
            ana, "/admin/issues/2026-12-20-new/save", {**form, "text": text + "\nAna.\n"}, page_url
        )
        assert saved.status_code == 303
        stale = post(
            bo, "/admin/issues/2026-12-20-new/save", {**form, "text": text + "\nBo.\n"}, page_url
        )
        assert stale.status_code == 409
        assert (
            "saved by someone else" in stale.text and "Ana." in stale.text and "Bo." in stale.text
        )
        assert (
            "Bo."
            not in read_file(server.settings, "2026-12-20-new", "articles/01-first-article.md")[0]
        )
        preview = post(
            ana,
            "/admin/issues/2026-12-20-new/preview",
            {"file": "issue.md", "text": "---\nsubjekt: x\n---\n"},
            page_url,
        )
        assert preview.status_code == 200 and "unknown front-matter key" in preview.text
        assert 'data-line="2"' in preview.text
    assert ("edie@example.com", "issue.create", "2026-12-20-new") in actions(server.engine)
    assert (
        "edie@example.com",
        "issue.save",
        "2026-12-20-new/articles/01-first-article.md",
    ) in actions(server.engine)


def test_every_form_needs_its_csrf_token(server: Server, editor: Account) -> None:
    with client_for(server, editor) as client:
        client.get("/admin")
        for path in (
            "/admin/issues/new",
            f"/admin/issues/{SLUG}/save",
            f"/admin/issues/{SLUG}/preview",
            f"/admin/issues/{SLUG}/schedule",
            f"/admin/issues/{SLUG}/cancel",
            f"/admin/issues/{SLUG}/test",
            f"/admin/issues/{SLUG}/images",
        ):
            refused = client.post(path, data={"slug": "x", "csrf_token": "forged"})
            assert refused.status_code == 403, path


def test_schedule_unschedule_and_cancel(server: Server, editor: Account) -> None:
    service.add_subscriber(
        server.engine, "reader@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    issue = f"/admin/issues/{SLUG}"
    with client_for(server, editor) as client:
        page = client.get(issue)
        assert 'type="datetime-local"' in page.text and "Europe/London time" in page.text
        past = post(
            client, f"{issue}/schedule", {"mode": "schedule", "at": "2020-01-01T09:00"}, issue
        )
        assert past.status_code == 422 and "past" in past.text
        done = post(
            client, f"{issue}/schedule", {"mode": "schedule", "at": "2026-12-20T09:30"}, issue
        )
        assert done.status_code == 303
        edition = find_edition(server.engine, SLUG)
        assert edition is not None and edition.status == "scheduled"
        assert edition.send_at == datetime(2026, 12, 20, 9, 30, tzinfo=UTC)  # London is UTC+0
        shown = client.get(issue)
        assert (
            "scheduled 2026-12-20 09:30" in shown.text and 'value="2026-12-20T09:30"' in shown.text
        )
        moved = post(
            client, f"{issue}/schedule", {"mode": "reschedule", "at": "2026-12-21T10:00"}, issue
        )
        assert moved.status_code == 303
        assert find_edition(server.engine, SLUG).send_at.hour == 10  # type: ignore[union-attr]
        assert post(client, f"{issue}/unschedule", {}, issue).status_code == 303
        assert find_edition(server.engine, SLUG).status == "frozen"  # type: ignore[union-attr]
        ask = post(client, f"{issue}/cancel", {}, issue)
        assert ask.status_code == 200 and "Yes, cancel it" in ask.text
        assert find_edition(server.engine, SLUG).status == "frozen"  # type: ignore[union-attr]
        assert post(client, f"{issue}/cancel", {"confirm": "yes"}, issue).status_code == 303
        assert find_edition(server.engine, SLUG).status == "cancelled"  # type: ignore[union-attr]
    done_actions = [a for _, a, t in actions(server.engine) if t == SLUG]
    assert done_actions == [
        "issue.scheduled",
        "issue.scheduled",
        "issue.unscheduled",
        "issue.cancelled",
    ]


def test_a_test_copy_goes_to_the_signed_in_editor(server: Server, editor: Account) -> None:
    with client_for(server, editor) as client:
        sent = post(client, f"/admin/issues/{SLUG}/test", {}, f"/admin/issues/{SLUG}")
        assert sent.status_code == 303
        assert "test copy is on its way" in client.get(sent.headers["location"]).text
    assert len(mails(server.settings, "Microneedling", to=editor.email)) == 1
    assert find_edition(server.engine, SLUG) is None  # the ledger is untouched


def test_progress_and_results_of_a_sent_issue(server: Server, editor: Account) -> None:
    for n in range(3):
        service.add_subscriber(
            server.engine, f"r{n}@example.com", lists=["beauty-tips"], method="cli", confirmed=True
        )
    edition_id = freeze_edition(server.settings, server.engine, SLUG, clock=server.clock)
    send_edition(server.settings, server.engine, edition_id, clock=server.clock)
    with client_for(server, editor) as client:
        progress = client.get(f"/admin/issues/{SLUG}/progress")
        assert "Sent 3 of 3 (100% done)" in progress.text and "hx-get" not in progress.text
        results = client.get(f"/admin/issues/{SLUG}/results")
        assert results.status_code == 200 and "Opened (people)" in results.text
        assert "Links" in results.text
        chart = client.get(f"/admin/issues/{SLUG}/results/chart.svg")
        assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg")
        assert "<svg" in chart.text
        board = client.get("/admin")
        assert board.status_code == 200 and "Opened" in board.text, board.text
        trends = client.get("/admin/results")
        assert trends.status_code == 200 and SLUG in trends.text
        assert client.get("/admin/results/chart.svg").text.lstrip().startswith("<svg")
        assert client.get("/admin/issues/2099-01-01-none/results").status_code == 404
        assert client.get(f"/admin/issues/{SLUG}/files/../../newsletter.toml").status_code == 404


def test_an_issue_from_the_feed_inbox(server: Server, editor: Account) -> None:
    from pipeline.feeds.inbox import store_entries
    from pipeline.feeds.parse import parse_feed
    from pipeline.feeds.sources import add_feed
    from tests.feeds.samples import RSS_20

    with client_for(server, editor) as client:
        empty = post(client, "/admin/issues/new", {"slug": "2026-12-22-news", "start": "feeds"})
        assert empty.status_code == 422 and "no unused inbox entries" in empty.text
        feed = add_feed(server.engine, "https://skin.example.com/feed", name="Skin Daily")
        entries = parse_feed(RSS_20.encode(), source=feed.url).entries
        store_entries(server.engine, feed, entries, now=server.clock.now())
        made = post(client, "/admin/issues/new", {"slug": "2026-12-22-news", "start": "feeds"})
        assert made.status_code == 303
        page = client.get(made.headers["location"])
        assert page.status_code == 200 and "articles/" in page.text
    assert list((server.settings.issues_dir / "2026-12-22-news" / "articles").glob("*.md"))


def test_local_time_and_ab_options_show_on_the_issue_page(server: Server, editor: Account) -> None:
    service.add_subscriber(
        server.engine, "reader@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    issue_md = server.settings.issues_dir / SLUG / "issue.md"
    text = issue_md.read_text()
    issue_md.write_text(text.replace("\n---\n", "\nsend_at_local: 2026-12-20 09:00\n---\n", 1))
    issue = f"/admin/issues/{SLUG}"
    with client_for(server, editor) as client:
        page = client.get(issue)
        assert "each reader gets it at 2026-12-20 09:00 in their own time zone" in page.text
        assert 'type="datetime-local"' not in page.text
        done = post(client, f"{issue}/schedule", {"mode": "schedule"}, issue)
        assert done.status_code == 303, done.text
        assert find_edition(server.engine, SLUG).status == "scheduled"  # type: ignore[union-attr]
    issue_md.write_text(
        text.replace(
            "\n---\n",
            "\nsubject_variants:\n  - Winter skin\n  - Five winter mistakes\n---\n",
            1,
        )
    )
    with client_for(server, editor) as client:
        page = client.get(issue)
        assert "A/B subject test" in page.text and "Five winter mistakes" in page.text
