"""Images of an issue: where a relative image lives and which URL an email uses for it.

A relative image (``image: images/serum.png`` or ``![alt](images/serum.png)``) is looked up
next to the Markdown file that names it, then in the issue folder. The sent email cannot
carry files, so it links the image under the web archive:
``{base_url}/archive/<slug>/<path inside the issue folder>``; `issue build` copies the
images next to email.html and web.html so the local files show them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Settings

REMOTE = ("http://", "https://", "data:", "cid:")


@dataclass(frozen=True)
class ImageRef:
    src: str  # as written
    url: str  # what the email uses
    local: Path | None  # the file, for a relative image (may not exist)
    rel: str | None  # its path inside the issue folder
    problem: str = ""  # "missing" | "outside" | ""


def archive_prefix(settings: Settings, slug: str) -> str:
    return f"{settings.newsletter.base_url}/archive/{slug}/"


def resolve_image(settings: Settings, slug: str, folder: Path, near: Path, src: str) -> ImageRef:
    """Resolve ``src`` written in a file in ``near`` (a folder) of the issue ``folder``."""
    if not src or src.startswith(REMOTE) or src.startswith("//"):
        return ImageRef(src, src, None, None)
    clean = src.split("#", 1)[0].split("?", 1)[0]
    root = folder.resolve()
    candidates = [(near / clean).resolve(), (folder / clean).resolve()]
    chosen = next((c for c in candidates if c.is_file()), candidates[-1])
    try:
        rel = chosen.relative_to(root).as_posix()
    except ValueError:
        return ImageRef(src, src, chosen, None, "outside")
    problem = "" if chosen.is_file() else "missing"
    return ImageRef(src, archive_prefix(settings, slug) + rel, chosen, rel, problem)
