"""Golden files: the HTML and text a sample reader gets, and the web version, of

- the sample issue (``issues/2026-12-01-microneedling``),
- an issue that uses every block (``tests/render/fixtures/2026-12-15-every-block``),
- the same issue in the compact ``digest`` layout.

``python -m tests.render.golden --write`` (or ``make golden``) regenerates them on purpose
after a deliberate change to templates, content or rendering; the test compares.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from pipeline.config import Settings, load_settings
from pipeline.render.build import build_issue, sample_values

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SLUG = "2026-12-01-microneedling"
EVERY_BLOCK = "2026-12-15-every-block"
DIGEST = "2026-12-16-every-block-digest"
ENV = {"NEWSLETTER_SECRET_KEY": "golden-files-signing-key-0123456789abcdef"}


def make_project(root: Path) -> Settings:
    """A newsletter folder with the repo's settings, templates and brand kit, the sample
    issue, the every-block fixture, and that fixture again with ``template: digest``."""
    for name in ("templates", "brand"):
        shutil.copytree(REPO / name, root / name)
    shutil.copyfile(REPO / "newsletter.toml", root / "newsletter.toml")
    shutil.copytree(REPO / "issues" / SLUG, root / "issues" / SLUG)
    shutil.copytree(FIXTURES / EVERY_BLOCK, root / "issues" / EVERY_BLOCK)
    shutil.copytree(FIXTURES / EVERY_BLOCK, root / "issues" / DIGEST)
    issue_md = root / "issues" / DIGEST / "issue.md"
    issue_md.write_text(
        issue_md.read_text().replace("template: issue", "template: digest"), encoding="utf-8"
    )
    return load_settings(root / "newsletter.toml", ENV)


def render(settings: Settings, slug: str) -> dict[str, str]:
    build = build_issue(settings, slug)
    mail = build.compiled.personalise(sample_values(settings, slug))
    return {
        f"{slug}/email.html": mail.html,
        f"{slug}/email.txt": mail.text,
        f"{slug}/subject.txt": mail.subject + "\n",
        f"{slug}/web.html": build.web_html,
    }


def render_sample() -> dict[str, str]:
    """The golden issues rendered from the repository, with fixed values only."""
    settings = load_settings(REPO / "newsletter.toml", ENV, root=REPO)
    rendered = render(settings, SLUG)
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp))
        for slug in (EVERY_BLOCK, DIGEST):
            rendered.update(render(project, slug))
    return rendered


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
