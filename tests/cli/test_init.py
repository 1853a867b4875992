"""`newsletter init DIR` starts a newsletter that builds out of the box."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_settings
from tests.conftest import REPO, TEST_SECRET


def test_init_writes_a_project_that_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "my-letter"
    result = CliRunner().invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert f"wrote {target}/newsletter.toml" in result.stdout
    assert sorted(p.name for p in target.iterdir()) == [
        ".gitignore",
        "brand",
        "issues",
        "newsletter.toml",
        "templates",
    ]
    config = (target / "newsletter.toml").read_text()
    assert config.count("\n#") >= 3  # commented for a new user
    settings = load_settings(target / "newsletter.toml", {"NEWSLETTER_SECRET_KEY": "x" * 40})
    assert settings.newsletter.postal_address
    # The templates and the example issue are real copies, not links.
    assert not (target / "templates").is_symlink()
    assert (target / "templates" / "email" / "issue.mjml.j2").read_text() == (
        REPO / "templates" / "email" / "issue.mjml.j2"
    ).read_text()
    monkeypatch.chdir(target)
    built = CliRunner().invoke(
        app,
        ["issue", "build", "2026-12-01-microneedling"],
        env={"NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_CONFIG": ""},
    )
    assert built.exit_code == 0, built.output
    assert (target / "var" / "build" / "2026-12-01-microneedling" / "email.html").is_file()


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path}: the folder is not empty (choose a new or empty folder; "
        "init never overwrites files)\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_init_accepts_an_existing_empty_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0
    assert (tmp_path / "issues" / "2026-12-01-microneedling" / "issue.md").is_file()


def test_init_where_no_folder_can_be_made_says_so(tmp_path: Path) -> None:
    """A folder that cannot be created (here: inside a file) is an error line, no traceback."""
    (tmp_path / "notes.txt").write_text("mine\n")
    target = tmp_path / "notes.txt" / "news"
    result = CliRunner().invoke(app, ["init", str(target)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {target}: cannot create the folder: Not a directory"
        " (choose a folder you can write to)\n"
    )
