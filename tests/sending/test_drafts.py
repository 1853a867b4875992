"""The studio's live preview: the unsaved text built by the same build and checks as
``issue check``, with findings naming the real files; the issue folder is not touched."""

from __future__ import annotations

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.content.editing import read_file
from pipeline.content.issues import new_issue
from pipeline.sending.drafts import preview_draft
from pipeline.sending.editions import checked_findings
from pipeline.store.db import open_database

SLUG = "2026-12-15-winter"
FILES = "/admin/issues/2026-12-15-winter/files/"


def test_the_preview_builds_the_unsaved_text(settings: Settings) -> None:
    engine: Engine = open_database(settings.database_url)
    new_issue(settings, SLUG, subject="Winter skin", sample_article=True)
    rel = "articles/01-first-article.md"
    before, _ = read_file(settings, SLUG, rel)
    draft = before.replace("title: Your first article", "title: Barrier creams")
    result = preview_draft(settings, engine, SLUG, rel, draft, files_url=FILES)
    assert "Barrier creams" in result.html and "Barrier creams" in result.dark_html
    assert result.subject == "Winter skin" and "barrier creams" in result.text.lower()
    assert "@media all" in result.dark_html and "@media all" not in result.html
    assert read_file(settings, SLUG, rel)[0] == before  # nothing written
    # the same findings as issue check, on the real file names
    saved_findings, _ = checked_findings(settings, engine, SLUG)
    codes = {(f.code, f.path, f.line) for f in result.findings}
    assert ("placeholder", f"issues/{SLUG}/issue.md", 10) in {
        (f.code, f.path, f.line) for f in saved_findings
    }
    assert {(f.path, f.line) for f in result.findings if f.path.endswith("issue.md")} == {
        (f.path, f.line) for f in saved_findings if f.path.endswith("issue.md")
    }
    assert not any("studio-drafts" in path for _, path, _ in codes)
    assert not any((settings.var_dir / "studio-drafts").iterdir())


def test_a_draft_that_does_not_load_is_one_finding_with_its_line(settings: Settings) -> None:
    new_issue(settings, SLUG, subject="Winter skin")
    text, _ = read_file(settings, SLUG, "issue.md")
    broken = text.replace("subject: Winter skin", "subjekt: Winter skin")
    result = preview_draft(settings, None, SLUG, "issue.md", broken, files_url=FILES)
    assert result.html == ""
    [finding] = result.findings
    assert finding.code == "content" and finding.path == f"issues/{SLUG}/issue.md"
    assert finding.line == 2


def test_images_point_at_the_studio(settings: Settings) -> None:
    new_issue(settings, SLUG, subject="Winter skin")
    (settings.issues_dir / SLUG / "images").mkdir()
    (settings.issues_dir / SLUG / "images" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    text, _ = read_file(settings, SLUG, "issue.md")
    result = preview_draft(
        settings, None, SLUG, "issue.md", text + "\n![A jar](images/a.png)\n", files_url=FILES
    )
    assert f'src="{FILES}images/a.png"' in result.html
