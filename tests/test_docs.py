"""Documentation is tested: every command has help text and appears in the README or the
documentation under docs/, and every setting of newsletter.toml is in the configuration
reference."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from pipeline.cli import app
from pipeline.config import _SECTIONS, FeedSource
from tests.conftest import REPO

README = "\n".join(
    path.read_text(encoding="utf-8")
    for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    if path.exists()
)


def _commands(typer_app: typer.Typer, prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for info in typer_app.registered_commands:
        name = info.name or (info.callback.__name__.replace("_", "-") if info.callback else "")
        found.append((f"{prefix}{name}", info))
    for group in typer_app.registered_groups:
        assert group.typer_instance is not None
        found += _commands(group.typer_instance, f"{prefix}{group.name} ")
    return found


COMMANDS = _commands(app)


def test_there_are_commands() -> None:
    assert len(COMMANDS) >= 2


@pytest.mark.parametrize(("name", "info"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(name: str, info: Any) -> None:
    text = info.help or (info.callback.__doc__ if info.callback else None)
    assert text and text.strip(), f"'newsletter {name}' has no help text"
    assert f"newsletter {name}" in README, f"README.md does not mention 'newsletter {name}'"


SETTINGS = [
    f"{section}.{key}" for section, model in _SECTIONS.items() for key in model.model_fields
] + [f"feeds.sources.{key}" for key in FeedSource.model_fields]


@pytest.mark.parametrize("dotted", SETTINGS)
def test_every_setting_is_in_the_configuration_reference(dotted: str) -> None:
    assert f"`{dotted}`" in README, f"README.md's configuration reference lacks `{dotted}`"
