"""One way to hash a folder, for the edition's content hash (``build.content_hash``) and the
draft check cache (``checkcache.check_key``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["hash_tree"]


def hash_tree(digest: hashlib._Hash, base: Path) -> None:
    """Feed every file under ``base`` to ``digest``: its path inside ``base``, then its
    bytes, in path order (a missing folder feeds a marker)."""
    if not base.is_dir():
        digest.update(b"(none)\0")
        return
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
