"""Build time of a 10-article issue: Markdown, Jinja, MJML, css-inline, text part, web
version and every check (target: under 100 ms).

The issue is generated in a temporary copy of the repository's templates: ten articles of
about 350 words each (distinct texts, so the near-duplicate check does its full work), one
with a local image. Reported: the median of warm builds, and the first (cold) build.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.config import load_settings
from pipeline.content import markdown
from pipeline.render.build import build_issue

REPO = Path(__file__).resolve().parent.parent
SLUG = "2026-06-01-bench"
RUNS = 30
WORDS = [
    "skin",
    "serum",
    "collagen",
    "barrier",
    "moisture",
    "retinol",
    "vitamin",
    "sunscreen",
    "cleanser",
    "toner",
    "texture",
    "glow",
    "hydration",
    "routine",
    "night",
    "morning",
    "gentle",
    "acid",
    "peptide",
    "ceramide",
    "balm",
    "mask",
    "oil",
    "clay",
    "pores",
    "redness",
    "calm",
    "soothe",
    "repair",
    "layer",
    "apply",
    "patch",
    "test",
    "dermatologist",
    "season",
    "winter",
    "summer",
    "travel",
    "sleep",
    "water",
    "diet",
    "stress",
    "habit",
    "tip",
    "product",
    "label",
    "ingredient",
    "fragrance",
]


def _article(rng: random.Random, number: int) -> str:
    def sentence() -> str:
        words = rng.choices(WORDS, k=rng.randint(8, 16))
        return " ".join(words).capitalize() + "."

    paragraphs = [" ".join(sentence() for _ in range(4)) for _ in range(4)]
    items = "\n".join(f"- {sentence()}" for _ in range(4))
    image = "image: images/glow.png\nimage_alt: A soft pink gradient\n" if number == 1 else ""
    return (
        f"---\ntitle: Article number {number}\nsummary: {sentence()}\n{image}"
        f"author: Bench\ntags: [bench]\nlink: https://example.com/{number}\n---\n\n"
        f"{paragraphs[0]}\n\n## Why it matters\n\n{paragraphs[1]}\n\nThree things:\n\n{items}"
        f"\n\n{paragraphs[2]}\n\n{paragraphs[3]}\n"
    )


def _project(root: Path) -> None:
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "brand", root / "brand")
    shutil.copyfile(REPO / "newsletter.toml", root / "newsletter.toml")
    folder = root / "issues" / SLUG
    (folder / "articles").mkdir(parents=True)
    (folder / "images").mkdir()
    shutil.copyfile(
        REPO / "issues" / "2026-12-01-microneedling" / "images" / "glow.png",
        folder / "images" / "glow.png",
    )
    (folder / "issue.md").write_text(
        "---\nsubject: Ten articles\npreheader: A benchmark issue.\nlists: [beauty-tips]\n"
        "---\n\nHello! Ten articles follow.\n"
    )
    rng = random.Random(7)
    for number in range(1, 11):
        (folder / "articles" / f"{number:02d}.md").write_text(_article(rng, number))


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _project(root)
        settings = load_settings(
            root / "newsletter.toml",
            {"NEWSLETTER_SECRET_KEY": "bench-signing-key-0123456789abcdef"},
        )
        started = time.perf_counter()
        first = build_issue(settings, SLUG)
        cold = (time.perf_counter() - started) * 1000
        assert len(first.issue.articles) == 10 and not first.errors, first.errors
        times = []
        for _ in range(RUNS):
            markdown.parsed.cache_clear()  # every build parses its Markdown afresh
            started = time.perf_counter()
            build_issue(settings, SLUG)
            times.append((time.perf_counter() - started) * 1000)
        size = len(first.compiled.html.fill({}).encode())
    warm = round(statistics.median(times), 1)
    return [
        {
            "name": "build of a 10-article issue",
            "value": warm,
            "unit": "ms",
            "target": "< 100",
            "ok": warm < 100,
            "note": f"median of {RUNS} warm builds; HTML {size // 1024} KB",
        },
        {
            "name": "first build of a 10-article issue (cold templates)",
            "value": round(cold, 1),
            "unit": "ms",
            "target": "",
            "ok": None,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
