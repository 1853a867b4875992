"""The editor's content, as loaded from an issue folder.

    Issue            issues/<slug>/issue.md (front matter + intro Markdown)
    └── Article      issues/<slug>/articles/<name>.md (front matter + body Markdown)

Both keep the line of every front-matter key (``lines``) so that checks and errors can
name the file and line a problem comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.content.blocks import KIND_KEYS, Expert, Product, RoutineStep
from pipeline.content.variants import ABTest, SubjectVariant

#: Keys an article's front matter may hold (anything else is refused with a suggestion).
ARTICLE_KEYS: tuple[str, ...] = (
    "title",
    "summary",
    "image",
    "image_alt",
    "link",
    "author",
    "tags",
    "source",
    "source_link",
    "kind",
)
#: Every key some kind accepts (a key of another kind is refused with the kinds that take it).
BLOCK_KEYS: tuple[str, ...] = tuple(k for keys in KIND_KEYS.values() for k in keys)

#: Keys an issue's front matter may hold.
ISSUE_KEYS: tuple[str, ...] = (
    "subject",
    "preheader",
    "lists",
    "segment",
    "template",
    "articles",
    "send_at",
    "send_at_local",  # each reader's wall-clock time (content/variants.py)
    "subject_variants",  # an A/B subject test (content/variants.py)
    "ab_test",
    # UTM tags of this issue's outbound links (docs/tracking.md), over [tracking]'s
    "utm_source",
    "utm_medium",
    "utm_campaign",
)

#: Article kinds: a story card, a tips block (the body is a list of tips), a product row,
#: a routine (numbered steps) and an expert's tip (the body is the quote).
ARTICLE_KINDS: tuple[str, ...] = tuple(KIND_KEYS)


@dataclass(frozen=True)
class Article:
    """One article of an issue, or a block of another ``kind`` (see ``ARTICLE_KINDS``)."""

    name: str  # file stem, e.g. "01-microneedling"
    path: Path
    title: str
    body_md: str
    summary: str = ""
    image: str = ""
    image_alt: str | None = None  # None: the key is missing (the check flags it)
    link: str = ""
    author: str = ""
    tags: tuple[str, ...] = ()
    source: str = ""
    source_link: str = ""
    kind: str = "article"
    products: tuple[Product, ...] = ()
    steps: tuple[RoutineStep, ...] = ()
    expert: Expert | None = None
    body_line: int = 1  # line of the file where the body starts
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, 1)


@dataclass(frozen=True)
class Issue:
    """An issue folder: its settings, the editor's intro and its articles in order."""

    slug: str
    subject: str
    preheader: str
    lists: tuple[str, ...]
    template: str
    send_at: datetime | None
    articles: tuple[Article, ...]
    intro_md: str
    folder: Path
    intro_line: int = 1
    lines: dict[str, int] = field(default_factory=dict)
    segment: str = ""  # a [[segments]] name: only those of the lists who match it
    utm: dict[str, str] = field(default_factory=dict)  # utm_* from the front matter
    variants: tuple[SubjectVariant, ...] = ()  # subject_variants: an A/B test
    ab_test: ABTest | None = None
    send_at_local: datetime | None = None  # naive: each reader's own wall clock

    @property
    def path(self) -> Path:
        return self.folder / "issue.md"

    def line_of(self, key: str) -> int:
        return self.lines.get(key, 1)


@dataclass(frozen=True)
class IssueSummary:
    """One row of ``issue list``."""

    slug: str
    subject: str
    articles: int
    lists: tuple[str, ...]
    send_at: datetime | None
    error: str = ""  # set when the folder does not load
