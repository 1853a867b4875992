"""No silent newsletter in the wrong folder: without a newsletter.toml in the folder or its
parents (or --config / NEWSLETTER_CONFIG), every command but `init` and `--help` stops with
an error that says where it looked, and creates nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.config import find_config
from tests.conftest import TEST_SECRET

COMMANDS = [
    ["issue", "list"],
    ["issue", "new", "2026-01-05-first"],
    ["db", "upgrade"],
    ["subscribers", "add", "ann@example.org"],
    ["lists", "list"],
    ["send-due"],
    ["schedule"],
    ["feeds", "list"],
]


def _run(folder: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(folder)
    env = {
        "NEWSLETTER_CONFIG": None,
        "NEWSLETTER_DATABASE_URL": None,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
    }
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_command_outside_a_newsletter_stops_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    empty = tmp_path / "somewhere"
    empty.mkdir()
    assert find_config(empty, {}) is None  # nothing above tmp_path either
    result = _run(empty, monkeypatch, *command)
    assert result.exit_code == 1, result.output
    assert " ".join(result.stderr.split()) == (
        f"Error: no newsletter.toml found: looked in {empty.resolve()} and its parent "
        "folders; NEWSLETTER_CONFIG is not set (cd into your newsletter folder, pass "
        "--config PATH/newsletter.toml (or set NEWSLETTER_CONFIG), or start a newsletter "
        "here with 'newsletter init .')"
    )
    assert list(empty.iterdir()) == []


def test_help_and_init_work_without_a_newsletter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(tmp_path, monkeypatch, "issue", "--help").exit_code == 0
    assert _run(tmp_path, monkeypatch, "--help").exit_code == 0
    assert list(tmp_path.iterdir()) == []
    made = _run(tmp_path, monkeypatch, "init", "news")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "news" / "newsletter.toml").is_file()


def test_the_nearest_newsletter_toml_above_is_found(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from inside an issue's folder, as git finds .git."""
    inside = project_dir / "issues" / "2026-12-01-microneedling"
    assert find_config(inside, {}) == project_dir.resolve() / "newsletter.toml"
    result = _run(inside, monkeypatch, "issue", "list")
    assert result.exit_code == 0, result.output
    assert "2026-12-01-microneedling" in result.output
    assert not (inside / "var").exists()


def test_an_explicit_config_that_is_missing_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(tmp_path, monkeypatch, "--config", str(tmp_path / "nope.toml"), "issue", "list")
    assert result.exit_code == 1
    assert "configuration file not found" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_explicit_config_that_is_a_folder_says_which_file_to_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(tmp_path, monkeypatch, "--config", str(tmp_path), "issue", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path}: is a folder, not a configuration file"
        f" (name the file: --config {tmp_path / 'newsletter.toml'})\n"
    )
