"""Documentation is tested, from the code: every command has help text and is explained in a
guide (README.md or a page under docs/ outside the generated reference); the reference pages
(every command with its options, every setting with its type, default and meaning) match the
Typer app and the settings model; every page under docs/ is in the site's nav.

Each test names everything that is missing at once, with how to fix it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO
from tests.reference import PAGES, REFERENCE, commands, meanings, options, setting_fields

DOCS = REPO / "docs"


def _read(paths: list[Path]) -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in paths if path.exists())


PAGES_MD = sorted(DOCS.rglob("*.md"))
GUIDES = _read([REPO / "README.md", *[p for p in PAGES_MD if REFERENCE not in p.parents]])
ALL_DOCS = _read([REPO / "README.md", *PAGES_MD])
COMMANDS = commands()


def test_the_app_and_the_model_are_read() -> None:
    # Guards the tests below against passing on nothing.
    assert len(COMMANDS) >= 40
    assert sum(len(options(c)) for _, c in COMMANDS) >= 80
    assert len(setting_fields()) >= 70


def test_every_command_has_help_text() -> None:
    missing = [name for name, command in COMMANDS if not (command.help or "").strip()]
    assert missing == [], f"commands without help text (a docstring or help=...): {missing}"


def test_every_command_is_explained_in_a_guide() -> None:
    missing = [name for name, _ in COMMANDS if name not in GUIDES]
    assert missing == [], (
        f"no guide mentions {missing}: say what they are for in README.md or a page under docs/"
    )


def test_the_reference_pages_match_the_code() -> None:
    stale = [name for name, make in PAGES.items() if (REFERENCE / name).read_text() != make()]
    assert stale == [], f"docs/reference/{stale} are stale: run 'make reference' and commit them"


def _sections(page: str) -> dict[str, str]:
    """'newsletter x y' -> its section of the command reference."""
    parts = re.split(r"^## `(newsletter[^`]*)`$", page, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_option_of_every_command_is_in_the_reference() -> None:
    sections = _sections((REFERENCE / "commands.md").read_text(encoding="utf-8"))
    missing = [
        f"{name} {option}"
        for name, command in COMMANDS
        for option in options(command)
        if f"`{option}`" not in sections.get(name, "")
    ]
    assert missing == [], f"options missing from docs/reference/commands.md: {missing}"


def test_every_setting_has_a_meaning_and_is_documented() -> None:
    means: dict[str, str] = meanings().get("settings") or {}
    fields = setting_fields()
    unexplained = [k for k, info in fields if not (means.get(k) or info.description)]
    assert unexplained == [], (
        f"settings without a meaning: {unexplained}; add a line to docs/reference/settings.yml"
        " (or Field(description=...)), then run 'make reference'"
    )
    undocumented = [k for k, _ in fields if f"`{k}`" not in ALL_DOCS]
    assert undocumented == [], f"settings not in the documentation: {undocumented}"
    stray = sorted(set(means) - {k for k, _ in fields})
    assert stray == [], f"docs/reference/settings.yml explains settings that do not exist: {stray}"


def _nav_pages(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node] if node.endswith(".md") else []
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return []


def test_every_page_under_docs_is_in_the_nav() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = _nav_pages(config["nav"])
    on_disk = [str(p.relative_to(DOCS)) for p in PAGES_MD]
    assert sorted(set(on_disk) - set(in_nav)) == [], "pages missing from the nav in mkdocs.yml"
    assert sorted(set(in_nav) - set(on_disk)) == [], "the nav in mkdocs.yml names missing pages"
    assert len(in_nav) == len(set(in_nav)), "a page is in the nav twice"
