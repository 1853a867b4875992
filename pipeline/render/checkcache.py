"""How many blocking check errors a draft has, remembered between runs.

``newsletter issue list`` shows ``check errors (N)`` beside a draft that would not send.
Counting means building the issue (Markdown, Jinja2, MJML and every check: about 0.15 s an
issue, and the renderer's imports on top), so the count is kept in
``var/cache/checks/<slug>.json`` under a key: sha256 over the issue folder, the templates,
the brand folder and the settings (secrets left out). Any changed file or setting gives
another key and the issue is built again; nothing is trusted that the key does not cover.
Checks against recently sent editions are not part of this count (``issue check`` runs
them).

The renderer is imported only when the issue has to be built, so a listing whose drafts
have not changed loads neither Jinja2 nor MJML.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from pipeline.config import Settings
from pipeline.render.fingerprint import hash_tree

__all__ = ["cache_path", "check_key", "draft_errors"]

_BRAND_DIR = "brand"


def check_key(settings: Settings, slug: str) -> str:
    """sha256 over what the checks of ``slug`` read: its folder, the templates, the brand
    folder and the settings (without secrets, root and config path)."""
    digest = hashlib.sha256()
    for base in (settings.issues_dir / slug, settings.templates_dir, settings.root / _BRAND_DIR):
        digest.update(str(base.name).encode() + b"\0")
        hash_tree(digest, base)
    digest.update(settings.model_dump_json(exclude={"secrets", "root", "config_path"}).encode())
    return digest.hexdigest()


def cache_path(settings: Settings, slug: str) -> Path:
    return settings.var_dir / "cache" / "checks" / f"{slug}.json"


def _read(path: Path, key: str) -> int | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or damaged: build again
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    errors = data.get("errors")
    return errors if isinstance(errors, int) and errors >= 0 else None


def _write(path: Path, key: str, errors: int) -> None:
    """Write atomically; a cache that cannot be written is only a slower next listing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"key": key, "errors": errors}, out)
        os.replace(tmp, path)
    except OSError:
        pass


def draft_errors(settings: Settings, slug: str) -> int:
    """The number of blocking check errors of ``slug`` (built only when its files or the
    settings changed since the last count). Raises what ``build_issue`` raises when the
    issue does not build."""
    key = check_key(settings, slug)
    path = cache_path(settings, slug)
    cached = _read(path, key)
    if cached is not None:
        return cached
    from pipeline.render.build import build_issue  # the renderer, only when needed

    errors = len(build_issue(settings, slug, web=False).errors)
    _write(path, key, errors)
    return errors
