"""The Jinja environments: the email and web versions share compiled templates (a build
compiles each once) and still render with their own globals; an edited template is
compiled again."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import jinja2
import pytest

from pipeline.config import Settings
from pipeline.render.environment import (
    Environments,
    SharedCode,
    _environments,
    cache_dir,
    environments,
    render_template,
)

PROBE = "probe.txt.j2"


def test_email_and_web_share_the_compiled_template_not_the_globals(settings: Settings) -> None:
    path = settings.templates_dir / PROBE
    path.write_text('{{ web }} {{ recipient("first_name", "reader") }}\n')
    envs = environments(settings)
    assert envs.web.bytecode_cache is envs.email.bytecode_cache is not None
    text_cache = envs.text.bytecode_cache  # not autoescaped: compiled differently
    assert text_cache is not None and text_cache is not envs.email.bytecode_cache

    email = render_template(settings, envs.email, PROBE, {})
    cache, loader = envs.web.bytecode_cache, envs.web.loader
    assert cache is not None and loader is not None
    source, filename, _ = loader.get_source(envs.web, PROBE)
    assert cache.get_bucket(envs.web, PROBE, filename, source).code is not None  # compiled once
    web = render_template(settings, envs.web, PROBE, {})
    assert web == "True reader\n"  # the web version's globals: the default, no placeholder
    assert email.startswith("False ") and email != "False reader\n"  # a placeholder

    path.write_text('{{ web }} {{ recipient("first_name", "friend") }} again\n')
    later = os.stat(path).st_mtime + 5
    os.utime(path, (later, later))
    assert render_template(settings, envs.web, PROBE, {}) == "True friend again\n"
    assert render_template(settings, envs.email, PROBE, {}).endswith(" again\n")


def _fresh(settings: Settings) -> Environments:
    """The environments a new process would make (the in-memory ones forgotten)."""
    _environments.cache_clear()
    return environments(settings)


def test_compiled_templates_are_kept_on_disk_for_the_next_command(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second process loads what the first compiled: nothing is compiled again; the
    files are private to the user (code is loaded from them)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (settings.templates_dir / PROBE).write_text("{{ web }} {{ 1 + 1 }}\n")
    envs = _fresh(settings)
    assert render_template(settings, envs.text, PROBE, {}) == "False 2\n"
    assert render_template(settings, envs.email, PROBE, {}) == "False 2\n"
    folder = cache_dir()
    assert folder == tmp_path / "cache" / "newsletter" / "templates"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)

    compiled: list[str] = []
    original = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(str(args[1] if len(args) > 1 else kwargs.get("filename")))
        return original(self, source, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    envs = _fresh(settings)
    assert render_template(settings, envs.text, PROBE, {}) == "False 2\n"
    assert render_template(settings, envs.web, PROBE, {}) == "True 2\n"
    assert compiled == []  # both from the disk: the text's, and the email's for the web
    assert len(files) == 2


def test_an_edited_template_is_compiled_again_in_the_next_command(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = settings.templates_dir / PROBE
    path.write_text("first {{ web }}\n")
    assert render_template(settings, _fresh(settings).text, PROBE, {}) == "first False\n"
    path.write_text("second {{ web }}\n")
    assert render_template(settings, _fresh(settings).text, PROBE, {}) == "second False\n"


def test_autoescaped_and_plain_code_never_mix_on_disk(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same template compiled with and without autoescape: each environment gets its
    own code back from the disk."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (settings.templates_dir / PROBE).write_text("{{ '<b>' }}\n")
    envs = _fresh(settings)
    assert render_template(settings, envs.email, PROBE, {}) == "&lt;b&gt;\n"
    assert render_template(settings, envs.text, PROBE, {}) == "<b>\n"
    envs = _fresh(settings)
    assert render_template(settings, envs.text, PROBE, {}) == "<b>\n"
    assert render_template(settings, envs.email, PROBE, {}) == "&lt;b&gt;\n"


def test_a_cache_folder_others_can_write_is_not_used(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = cache_dir()
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    (settings.templates_dir / PROBE).write_text("{{ 3 }}\n")
    envs = _fresh(settings)
    assert render_template(settings, envs.text, PROBE, {}) == "3\n"  # compiled, in memory
    assert list(folder.iterdir()) == []
    shared = envs.text.bytecode_cache
    assert isinstance(shared, SharedCode) and shared.disk is None
