"""The Jinja environments: the email and web versions share compiled templates (a build
compiles each once) and still render with their own globals; an edited template is
compiled again."""

from __future__ import annotations

import os

from pipeline.config import Settings
from pipeline.render.environment import environments, render_template

PROBE = "probe.txt.j2"


def test_email_and_web_share_the_compiled_template_not_the_globals(settings: Settings) -> None:
    path = settings.templates_dir / PROBE
    path.write_text('{{ web }} {{ recipient("first_name", "reader") }}\n')
    envs = environments(settings)
    assert envs.web.bytecode_cache is envs.email.bytecode_cache is not None
    assert envs.text.bytecode_cache is None  # not autoescaped: compiled differently

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
