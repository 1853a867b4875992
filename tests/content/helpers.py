"""Build small issue folders for tests."""

from __future__ import annotations

from pathlib import Path

ISSUE_MD = """\
---
subject: A test issue
preheader: Short and sweet.
lists: [beauty-tips]
---

Hello from the test intro.
"""

SUNSCREEN = """\
---
title: Sunscreen every day
summary: Why SPF matters.
author: Ana
tags: [skin care]
---

Sunscreen is the most important step in any skincare routine. Apply a broad-spectrum
SPF 30 every morning, even on cloudy days, and reapply every two hours when outdoors.
UV rays cause premature ageing and dark spots. Choose a formula that suits your skin.
"""

CLEANSER = """\
---
title: A gentle cleanser
summary: Keep the skin barrier happy.
---

A gentle cleanser keeps your skin barrier healthy. Wash your face twice a day with
lukewarm water, avoid harsh scrubs, and pat the skin dry with a clean towel. Follow
with a moisturiser suited to your skin type, and patch-test every new product.
"""


def write_issue(
    root: Path,
    slug: str = "2026-01-05-test",
    issue_md: str = ISSUE_MD,
    articles: dict[str, str | bytes] | None = None,
    files: dict[str, bytes] | None = None,
) -> Path:
    """issues/<slug>/ under ``root`` with ``issue_md`` and articles (name -> text)."""
    folder = root / "issues" / slug
    (folder / "articles").mkdir(parents=True)
    (folder / "issue.md").write_text(issue_md, encoding="utf-8")
    for name, text in (articles if articles is not None else {"01-sun": SUNSCREEN}).items():
        target = folder / "articles" / f"{name}.md"
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
    for name, data in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder
