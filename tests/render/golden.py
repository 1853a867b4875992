"""Golden files of the sample issue: the HTML and text a sample reader gets, and the web
version. ``python -m tests.render.golden --write`` (or ``make golden``) regenerates them on
purpose after a deliberate change to templates, content or rendering; the test compares.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.config import load_settings
from pipeline.render.build import build_issue, sample_values

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
SLUG = "2026-12-01-microneedling"


def render_sample() -> dict[str, str]:
    """The sample issue rendered from the repository, with fixed values only."""
    settings = load_settings(
        REPO / "newsletter.toml",
        {"NEWSLETTER_SECRET_KEY": "golden-files-signing-key-0123456789abcdef"},
        root=REPO,
    )
    build = build_issue(settings, SLUG)
    mail = build.compiled.personalise(sample_values(settings, SLUG))
    return {
        f"{SLUG}/email.html": mail.html,
        f"{SLUG}/email.txt": mail.text,
        f"{SLUG}/subject.txt": mail.subject + "\n",
        f"{SLUG}/web.html": build.web_html,
    }


def write() -> list[Path]:
    written = []
    for name, text in render_sample().items():
        path = GOLDEN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    if "--write" not in sys.argv[1:]:
        sys.exit("usage: python -m tests.render.golden --write")
    for path in write():
        print(f"wrote {path.relative_to(REPO)}")
