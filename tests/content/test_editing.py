"""The studio's editing stage: versions and refused stale saves, new articles, their order,
uploaded images (resized, alt text required) and git commits of each save."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from pipeline.config import Settings
from pipeline.content.editing import (
    EMAIL_WIDTH,
    EditConflict,
    Editor,
    issue_files,
    issue_image,
    move_article,
    new_article,
    read_file,
    reorder_articles,
    save_file,
    store_image,
)
from pipeline.content.issues import load_issue, new_issue
from pipeline.errors import ContentError

SLUG = "2026-12-15-winter"


@pytest.fixture
def issue(file_settings: Settings) -> Settings:
    new_issue(file_settings, SLUG, subject="Winter skin", sample_article=True)
    return file_settings


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 150)).save(out, format="PNG")
    return out.getvalue()


def test_a_save_names_the_version_it_started_from(issue: Settings) -> None:
    text, version = read_file(issue, SLUG, "issue.md")
    new = save_file(issue, SLUG, "issue.md", text.replace("Winter skin", "Cold days"), base=version)
    assert new != version
    assert load_issue(issue, SLUG).subject == "Cold days"
    assert read_file(issue, SLUG, "issue.md")[1] == new


def test_the_second_save_of_two_editors_is_refused_with_the_first_ones_text(
    issue: Settings,
) -> None:
    text, version = read_file(issue, SLUG, "issue.md")
    first = text.replace("Winter skin", "Ana's subject")
    save_file(issue, SLUG, "issue.md", first, base=version)
    with pytest.raises(EditConflict) as caught:
        save_file(issue, SLUG, "issue.md", text.replace("Winter skin", "Bo's"), base=version)
    assert "Ana's subject" in caught.value.current
    assert caught.value.version == read_file(issue, SLUG, "issue.md")[1]
    assert load_issue(issue, SLUG).subject == "Ana's subject"  # never lost
    # saving again on the version now on disk (after merging) is accepted
    save_file(issue, SLUG, "issue.md", first + "\nMerged.\n", base=caught.value.version)
    assert "Merged." in read_file(issue, SLUG, "issue.md")[0]


@pytest.mark.parametrize("rel", ["../newsletter.toml", "articles/../issue.md", "images/a.png"])
def test_only_the_issues_markdown_files_can_be_edited(issue: Settings, rel: str) -> None:
    with pytest.raises(ContentError):
        read_file(issue, SLUG, rel)
    with pytest.raises(ContentError):
        save_file(issue, SLUG, rel, "x", base="")


def test_new_articles_come_last_and_can_be_reordered(issue: Settings) -> None:
    rel = new_article(issue, SLUG, "Barrier creams: what works")
    assert rel == "articles/02-barrier-creams-what-works.md"
    assert issue_files(issue, SLUG) == [
        "issue.md",
        "articles/01-first-article.md",
        "articles/02-barrier-creams-what-works.md",
    ]
    move_article(issue, SLUG, rel, -1)
    assert [a.name for a in load_issue(issue, SLUG).articles] == [
        "02-barrier-creams-what-works",
        "01-first-article",
    ]
    text = read_file(issue, SLUG, "issue.md")[0]
    assert "subject: Winter skin" in text and "# send_at:" in text  # the rest is kept
    third = new_article(issue, SLUG, "Third")
    assert issue_files(issue, SLUG)[-1] == third  # appended to the articles: list
    reorder_articles(issue, SLUG, ["01-first-article", "03-third", "02-barrier-creams-what-works"])
    assert [a.name for a in load_issue(issue, SLUG).articles][1] == "03-third"
    with pytest.raises(ContentError):
        reorder_articles(issue, SLUG, ["01-first-article", "nope"])


def test_an_uploaded_image_is_resized_to_the_email_width(issue: Settings) -> None:
    stored = store_image(
        issue, SLUG, "My Photo.PNG", png(1800, 1200), "A jar", near="articles/x.md"
    )
    assert stored.rel == "images/my-photo.png"
    assert (stored.width, stored.height) == (EMAIL_WIDTH, 400)
    assert stored.markdown == "![A jar](../images/my-photo.png)"
    file = issue_image(issue, SLUG, stored.rel)
    assert Image.open(file).size == (EMAIL_WIDTH, 400)
    again = store_image(issue, SLUG, "my-photo.png", png(100, 80), "Small")
    assert (
        again.rel == "images/my-photo-2.png" and again.markdown == "![Small](images/my-photo-2.png)"
    )
    assert Image.open(issue_image(issue, SLUG, again.rel)).size == (100, 80)


def test_an_image_needs_alt_text_and_must_be_an_image(issue: Settings) -> None:
    with pytest.raises(ContentError, match="alt text"):
        store_image(issue, SLUG, "a.png", png(10, 10), "   ")
    with pytest.raises(ContentError, match="not an image"):
        store_image(issue, SLUG, "a.png", b"<svg>nope</svg>", "Alt")
    with pytest.raises(ContentError):
        issue_image(issue, SLUG, "../../newsletter.toml")


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def test_with_git_commit_on_each_save_is_a_commit_by_the_editor(
    make_settings: object, project_dir: Path
) -> None:
    settings = make_settings(**{"studio.git_commit": True})  # type: ignore[operator]
    git(project_dir, "init", "-q")
    git(
        project_dir,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "start",
    )
    (project_dir / "unrelated.txt").write_text("left alone\n")
    new_issue(settings, SLUG, subject="Winter", sample_article=True)
    ana = Editor("Ana Editor", "ana@example.com")
    text, version = read_file(settings, SLUG, "issue.md")
    save_file(settings, SLUG, "issue.md", text + "\nMore.\n", base=version, editor=ana)
    log = git(project_dir, "log", "-1", "--format=%an <%ae>|%s", "--name-only")
    assert log.startswith(f"Ana Editor <ana@example.com>|studio: {SLUG}/issue.md")
    assert f"issues/{SLUG}/issue.md" in log and "unrelated" not in log
    store_image(settings, SLUG, "p.png", png(20, 20), "Alt", editor=ana)
    assert f"issues/{SLUG}/images/p.png" in git(project_dir, "log", "-1", "--name-only")
    assert "unrelated.txt" in git(project_dir, "status", "--porcelain")


def test_without_git_commit_nothing_is_committed(issue: Settings) -> None:
    text, version = read_file(issue, SLUG, "issue.md")
    save_file(issue, SLUG, "issue.md", text, base=version, editor=Editor("A", "a@example.com"))
    assert not (issue.root / ".git").exists()
