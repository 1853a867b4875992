"""What an approval is for: the sha256 of an issue folder's own files.

Every file under ``issues/<slug>/`` counts (issue.md, articles, images, any other file),
by its path inside the folder and its bytes; hidden files and folders (``.git``, an
editor's ``.issue.md.swp``) and backups ending in ``~`` do not. Templates and settings are
not part of it: a change to the shared templates does not void every approval (the
edition's own content hash, ``render.build.content_hash``, covers those).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.config import Settings
from pipeline.content.editing import issue_folder


def _counted(path: Path, folder: Path) -> bool:
    parts = path.relative_to(folder).parts
    return not any(p.startswith(".") for p in parts) and not path.name.endswith("~")


def source_hash(settings: Settings, slug: str) -> str:
    """The hash of ``issues/<slug>/``'s files; ContentError when there is no such issue."""
    folder = issue_folder(settings, slug)
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _counted(p, folder))
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
