"""Writing in the browser (Debian's chromium): an editor signs in, creates an issue from the
skeleton, writes two articles (one with an uploaded image), sees the preview change as she
types, fixes check findings shown under their lines, reorders the articles and saves; the
files on disk are what she wrote. No CSP violation on the way."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pipeline.accounts.users import Account
from pipeline.content.issues import load_issue
from tests.studio.conftest import PASSWORD
from tests.web.conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLUG = "2026-12-15-winter-skin"


def sign_in(page: Any, server: Server, who: Account) -> None:
    page.goto(f"{server.url}/admin/login")
    page.get_by_label("Email address").fill(who.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/admin")


def csp_watch(page: Any) -> list[str]:
    """Collects CSP violations, script errors and failed requests (the favicon aside)."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and "favicon" not in r.url
            else None
        ),
    )
    return problems


def set_line(page: Any, line: int, text: str) -> None:
    """Replace line ``line`` (1-based) of the Markdown editor by typing, as a person does."""
    page.evaluate(
        """(n) => { const cm = document.querySelector('.CodeMirror').CodeMirror; cm.focus();
            cm.setSelection({line: n - 1, ch: 0}, {line: n - 1, ch: cm.getLine(n - 1).length});
        }""",
        line,
    )
    page.keyboard.type(text)


def editor_text(page: Any) -> str:
    return str(page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()"))


def line_of(page: Any, start: str) -> int:
    for number, line in enumerate(editor_text(page).split("\n"), 1):
        if line.startswith(start):
            return number
    raise AssertionError(f"no line starting with {start!r}")


def photo(tmp_path: Path) -> Path:
    path = tmp_path / "cream jar.jpg"
    Image.new("RGB", (1500, 1000), (210, 140, 160)).save(path, format="JPEG")
    return path


def test_an_editor_writes_an_issue_in_the_browser(
    server: Server, editor: Account, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    problems = csp_watch(page)
    sign_in(page, server, editor)
    page.get_by_role("link", name="New issue").first.click()
    page.get_by_label("Name of the folder").fill(SLUG)
    page.get_by_label("Subject").fill("Winter skin, sorted")
    page.get_by_label("The skeleton").check()
    page.get_by_role("button", name="Create the issue").click()
    page.wait_for_url(f"{server.url}/admin/issues/{SLUG}/edit")
    preview = page.frame_locator("iframe.email.light")
    expect(page.locator("#preview-result")).to_contain_text("Subject: Winter skin, sorted")

    # the skeleton's intro is flagged under its line; fix it in the editor
    intro = line_of(page, "Hello! This is the editor")
    widget = page.locator(".CodeMirror .finding-widget", has_text=f"line {intro}:")
    expect(widget).to_contain_text("placeholder")
    set_line(page, intro, "Cold air, central heating: here is how to keep your skin calm.")
    expect(preview.locator("body")).to_contain_text("central heating", timeout=20_000)
    expect(page.locator(".CodeMirror .finding-widget", has_text="intro")).to_have_count(0)
    set_line(page, line_of(page, "preheader:"), "preheader: Barrier creams and a gentle routine.")
    expect(page.locator("#findings")).not_to_contain_text("preheader is still", timeout=20_000)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"saved=1"))
    expect(page.get_by_role("status").first).to_have_text("Saved.")

    # the first article: its title and body typed, a photo uploaded and inserted
    page.get_by_role("link", name="01-first-article.md").click()
    expect(preview.locator("body")).to_contain_text("Your first article")
    set_line(page, line_of(page, "title:"), "title: Barrier creams that work")
    expect(preview.locator("body")).to_contain_text("Barrier creams that work", timeout=20_000)
    body = line_of(page, "Write the article here")
    set_line(page, body, "Look for ceramides and squalane; apply on damp skin.")
    page.evaluate(
        "(n) => { const cm = document.querySelector('.CodeMirror').CodeMirror;"
        " cm.setSelection({line: n, ch: 0}, {line: cm.lastLine(), ch: 0}); }",
        body,
    )
    page.keyboard.press("Delete")
    page.get_by_label("Image file").set_input_files(str(photo(tmp_path)))
    page.get_by_label("What the picture shows (alt text)").fill("A pink jar of barrier cream")
    page.get_by_role("button", name="Upload and insert").click()
    expect(page.locator("#upload-result")).to_contain_text("images/cream-jar.jpg (600×400)")
    expect(preview.locator("img[alt='A pink jar of barrier cream']")).to_be_visible(timeout=20_000)
    # the picture is served by the studio for the preview, at the email's width
    expect(preview.locator("img[alt='A pink jar of barrier cream']")).to_have_js_property(
        "naturalWidth", 600
    )
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"saved=1"))

    # a second article, then move it first
    page.get_by_label("New article's title").fill("Overnight masks")
    page.get_by_role("button", name="Add the article").click()
    page.wait_for_url(re.compile(r"file=articles/02-overnight-masks.md"))
    set_line(page, line_of(page, "summary:"), "summary: Wake up to soft skin.")
    set_line(page, line_of(page, "Write the article here"), "A thin layer, twice a week.")
    page.evaluate(
        "() => { const cm = document.querySelector('.CodeMirror').CodeMirror;"
        " const n = cm.lastLine(); cm.replaceRange('', {line: n - 1, ch: 0}, {line: n, ch: 0}); }"
    )
    expect(page.locator("#findings")).to_contain_text("The checks find nothing", timeout=20_000)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"saved=1"))
    page.get_by_role("button", name="Move 02-overnight-masks.md up").click()
    page.wait_for_load_state()
    expect(page.locator("ol.file-list li").nth(1)).to_contain_text("02-overnight-masks.md")
    page.screenshot(path=str(tmp_path / "editor.png"))

    issue = load_issue(server.settings, SLUG)
    assert [a.title for a in issue.articles] == ["Overnight masks", "Barrier creams that work"]
    assert "central heating" in issue.intro_md
    assert "![A pink jar of barrier cream](../images/cream-jar.jpg)" in issue.articles[1].body_md
    with Image.open(server.settings.issues_dir / SLUG / "images" / "cream-jar.jpg") as saved:
        assert saved.size == (600, 400)
    assert problems == []


def test_dark_mode_and_phone_width_switches(server: Server, editor: Account, page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, editor)
    page.goto(f"{server.url}/admin/issues/2026-12-01-microneedling/edit")
    light = page.locator("iframe.email.light")
    expect(light).to_be_visible(timeout=20_000)
    assert light.evaluate("f => f.getBoundingClientRect().width") >= 600  # the email's width
    page.get_by_role("button", name="Phone width").click()
    expect(page.get_by_role("button", name="Phone width")).to_have_attribute("aria-pressed", "true")
    assert light.evaluate("f => f.getBoundingClientRect().width") == 390
    page.get_by_role("button", name="Dark mode").click()
    dark = page.locator("iframe.email.dark")
    expect(dark).to_be_visible()
    expect(light).to_be_hidden()
    background = dark.evaluate(
        "f => getComputedStyle(f.contentDocument.querySelector('.nl-page') "
        "|| f.contentDocument.body).backgroundColor"
    )
    assert background != "rgb(255, 255, 255)"


def test_two_editors_one_file_the_second_save_shows_the_first(
    server: Server, editor: Account, approver: Account, browser: Any
) -> None:
    from playwright.sync_api import expect

    url = f"{server.url}/admin/issues/2026-12-01-microneedling/edit"
    first, second = browser.new_context(), browser.new_context()
    try:
        ana, bo = first.new_page(), second.new_page()
        sign_in(ana, server, editor)
        sign_in(bo, server, approver)
        for p in (ana, bo):
            p.goto(url)
            p.wait_for_selector(".CodeMirror")
        set_line(ana, line_of(ana, "subject:"), "subject: Ana's subject")
        ana.get_by_role("button", name="Save").click()
        ana.wait_for_url(re.compile(r"saved=1"))
        set_line(bo, line_of(bo, "subject:"), "subject: Bo's subject")
        bo.get_by_role("button", name="Save").click()
        expect(bo.get_by_role("alert")).to_contain_text("saved by someone else")
        expect(bo.get_by_label("Their version of issue.md")).to_have_value(
            re.compile("subject: Ana's subject")
        )
        assert "subject: Bo's subject" in editor_text(bo)  # hers is kept in the editor
        assert load_issue(server.settings, "2026-12-01-microneedling").subject == "Ana's subject"
        bo.get_by_role("button", name="Save").click()  # after reading theirs: hers wins
        bo.wait_for_url(re.compile(r"saved=1"))
        assert load_issue(server.settings, "2026-12-01-microneedling").subject == "Bo's subject"
    finally:
        first.close()
        second.close()


def test_the_keyboard_leaves_the_editor_and_unsaved_text_is_not_lost_silently(
    server: Server, editor: Account, page: Any
) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, editor)
    page.goto(f"{server.url}/admin/issues/2026-12-01-microneedling/edit")
    page.wait_for_selector("#findings")
    page.locator(".CodeMirror").click()
    page.keyboard.press("Tab")  # no keyboard trap: the focus moves on to the Save button
    expect(page.get_by_role("button", name="Save")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("x")
    expect(page.locator("#dirty")).to_have_text("Not saved yet")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    page.get_by_role("link", name="Dashboard").click()
    assert asked == ["beforeunload"]
    assert "/edit" in page.url  # stayed, the text still there
