"""The studio's live preview: build an issue with one file's unsaved text, by the same
build and checks as ``issue build`` and ``issue check``.

The issue folder is copied into ``var/studio-drafts/`` (images hard-linked where the file
system allows), the edited file replaced by the draft text, and the copy built; findings
name the files as in the real folder (``issues/<slug>/articles/a.md``). The HTML is made
viewable in the studio: archive image URLs point at the studio's file route and brand
files at ``/brand/``; ``dark`` forces the email's dark-mode styles.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.config import Settings
from pipeline.content.issues import display_path
from pipeline.render.assets import archive_prefix
from pipeline.render.brand import BRAND_DIR
from pipeline.render.findings import Finding

_DARK = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@contextmanager
def draft_folder(settings: Settings, slug: str, rel: str, text: str) -> Iterator[Path]:
    """A throw-away copy of ``issues/<slug>`` with ``rel`` holding ``text``."""
    source = settings.issues_dir / slug
    base = settings.var_dir / "studio-drafts"
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{slug}.", dir=base))
    try:
        copy = tmp / slug
        shutil.copytree(
            source, copy, copy_function=_link_or_copy, ignore=shutil.ignore_patterns(".*")
        )
        target = copy / rel
        target.unlink(missing_ok=True)  # never write through a hard link
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("\r\n", "\n"), encoding="utf-8")
        yield copy
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def relabel(settings: Settings, slug: str, copy: Path, findings: list[Finding]) -> list[Finding]:
    """``findings`` with the draft copy's paths replaced by the real folder's."""
    fake = display_path(settings, copy)
    real = display_path(settings, settings.issues_dir / slug)
    return [
        dataclasses.replace(f, path=f.path.replace(fake, real, 1)) if fake in f.path else f
        for f in findings
    ]


def viewable(settings: Settings, slug: str, html: str, files_url: str, *, dark: bool) -> str:
    """``html`` with images served by the app (``files_url``: the issue's files) and, with
    ``dark``, the dark-mode styles always on."""
    base = settings.newsletter.base_url
    html = html.replace(archive_prefix(settings, slug), files_url).replace(
        f"{base}/{BRAND_DIR}/", f"/{BRAND_DIR}/"
    )
    return _DARK.sub("@media all", html) if dark else html
