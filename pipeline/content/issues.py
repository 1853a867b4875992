"""Issue folders: load, list, create, and write article files.

    issues/<slug>/issue.md            front matter (subject, preheader, lists, template,
                                      articles, send_at) + the editor's intro in Markdown
    issues/<slug>/articles/<name>.md  front matter (title, summary, image, image_alt, link,
                                      author, tags, source, source_link, kind, and the
                                      fields of its kind: see content/blocks.py) + body
    issues/<slug>/<images>            images, referenced relative to the file that uses them

Every error names the file and line, e.g.
``issues/x/articles/a.md:3: unknown front-matter key 'titel' (did you mean 'title'?)``.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from pipeline.config import Settings
from pipeline.content.blocks import KIND_KEYS, load_expert, load_products, load_steps
from pipeline.content.frontmatter import (
    FrontMatter,
    check_keys,
    list_value,
    parse_front_matter,
    read_text,
    text_value,
)
from pipeline.content.models import (
    ARTICLE_KEYS,
    ARTICLE_KINDS,
    BLOCK_KEYS,
    ISSUE_KEYS,
    Article,
    Issue,
    IssueSummary,
)
from pipeline.content.variants import (
    ab_test,
    check_combination,
    send_at_local,
    subject_variants,
)
from pipeline.errors import ContentError, NewsletterError

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
DEFAULT_TEMPLATE = "issue"


def display_path(settings: Settings, path: Path) -> str:
    """``path`` relative to the newsletter folder when it is inside it (for messages)."""
    try:
        return str(path.resolve().relative_to(settings.root.resolve()))
    except ValueError:
        return str(path)


def check_slug(slug: str) -> None:
    if not SLUG.match(slug):
        raise ContentError(
            f"'{slug}' is not a valid issue name",
            fix="use lower-case letters, digits and '-', e.g. 2026-12-01-microneedling",
        )


# ---- loading -------------------------------------------------------------------------------
def load_article(path: Path, label: str) -> Article:
    front = parse_front_matter(read_text(path, label), label)
    check_keys(front, ARTICLE_KEYS + BLOCK_KEYS, label)
    kind = text_value(front, "kind", label) or "article"
    if kind not in ARTICLE_KINDS:
        raise ContentError(
            f"unknown kind '{kind}'",
            path=label,
            line=front.lines.get("kind", 1),
            fix=f"use one of: {', '.join(ARTICLE_KINDS)}",
        )
    for key in front.data:
        if key in BLOCK_KEYS and key not in KIND_KEYS[kind]:
            takes = [k for k, keys in KIND_KEYS.items() if key in keys]
            raise ContentError(
                f"'{key}' belongs to a {' or '.join(takes)} block, not to kind '{kind}'",
                path=label,
                line=front.lines.get(key, 1),
                fix=f"add 'kind: {takes[0]}' or remove '{key}'",
            )
    alt = front.data.get("image_alt")
    return Article(
        name=path.stem,
        path=path,
        title=text_value(front, "title", label, required=True),
        body_md=front.body,
        summary=text_value(front, "summary", label),
        image=text_value(front, "image", label),
        image_alt=None if alt is None else text_value(front, "image_alt", label),
        link=text_value(front, "link", label),
        author=text_value(front, "author", label),
        tags=tuple(list_value(front, "tags", label)),
        source=text_value(front, "source", label),
        source_link=text_value(front, "source_link", label),
        kind=kind,
        products=load_products(front, label) if kind == "product" else (),
        steps=load_steps(front, label) if kind == "routine" else (),
        expert=load_expert(front, label) if kind == "expert-tip" else None,
        body_line=front.body_line,
        lines=dict(front.lines),
    )


def _send_at(settings: Settings, front: FrontMatter, label: str) -> datetime | None:
    value: Any = front.data.get("send_at")
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, 9, 0)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, datetime):
        raise ContentError(
            "send_at is not a date and time",
            path=label,
            line=front.lines.get("send_at", 1),
            fix="write it like 2026-12-01 09:00 (in the newsletter's time zone)",
        )
    when: datetime = value
    if when.tzinfo is None:
        when = when.replace(tzinfo=settings.newsletter.tz)
    return when.astimezone(UTC)


def _article_files(
    settings: Settings, folder: Path, front: FrontMatter, label: str
) -> list[tuple[Path, str]]:
    articles_dir = folder / "articles"
    if "articles" not in front.data:
        files = sorted(articles_dir.glob("*.md")) if articles_dir.is_dir() else []
        return [(p, display_path(settings, p)) for p in files]
    names = list_value(front, "articles", label)
    item_lines = front.item_lines.get("articles", [])
    found: list[tuple[Path, str]] = []
    for i, name in enumerate(names):
        line = item_lines[i] if i < len(item_lines) else front.lines.get("articles", 1)
        filename = name if name.endswith(".md") else f"{name}.md"
        path = articles_dir / filename
        if "/" in name or "\\" in name or not path.is_file():
            raise ContentError(
                f"article '{name}' not found (looked for articles/{filename})",
                path=label,
                line=line,
                fix="create the file or remove the name from 'articles'",
            )
        found.append((path, display_path(settings, path)))
    return found


def load_issue(settings: Settings, slug: str, *, folder: Path | None = None) -> Issue:
    """Load ``issues/<slug>/`` (or ``folder``: a draft copy of it, for the studio's preview);
    raises ContentError naming file and line on bad input."""
    check_slug(slug)
    folder = folder or settings.issues_dir / slug
    path = folder / "issue.md"
    label = display_path(settings, path)
    if not path.is_file():
        raise ContentError(
            f"issue '{slug}' not found",
            path=display_path(settings, folder),
            fix="see 'newsletter issue list', or create it with 'newsletter issue new SLUG'",
        )
    front = parse_front_matter(read_text(path, label), label)
    check_keys(front, ISSUE_KEYS, label)
    lists = list_value(front, "lists", label)
    if not lists:
        raise ContentError(
            "no lists to send to",
            path=label,
            line=front.lines.get("lists", 1),
            fix=f"add 'lists: [{', '.join(settings.list_slugs[:1]) or 'my-list'}]'",
        )
    item_lines = front.item_lines.get("lists", [])
    for i, name in enumerate(lists):
        if name not in settings.list_slugs:
            raise ContentError(
                f"unknown list '{name}'",
                path=label,
                line=item_lines[i] if i < len(item_lines) else front.lines.get("lists", 1),
                fix=f"lists in newsletter.toml: {', '.join(settings.list_slugs) or 'none'}",
            )
    segment = text_value(front, "segment", label)
    if segment and settings.segment_named(segment) is None:
        raise ContentError(
            f"unknown segment '{segment}'",
            path=label,
            line=front.lines.get("segment", 1),
            fix="segments in newsletter.toml: "
            + (", ".join(s.name for s in settings.segments) or "none (add a [[segments]] entry)"),
        )
    template = text_value(front, "template", label) or DEFAULT_TEMPLATE
    template_file = settings.templates_dir / "email" / f"{template}.mjml.j2"
    if not template_file.is_file():
        raise ContentError(
            f"template '{template}' not found (looked for {display_path(settings, template_file)})",
            path=label,
            line=front.lines.get("template", 1),
            fix=f"use '{DEFAULT_TEMPLATE}' or create the template",
        )
    articles = tuple(
        load_article(p, shown) for p, shown in _article_files(settings, folder, front, label)
    )
    variants = subject_variants(front, label)
    local = send_at_local(front, label)
    check_combination(front, label, variants, local)
    subject = text_value(front, "subject", label, required=not variants)
    return Issue(
        slug=slug,
        subject=subject or variants[0].subject,
        preheader=text_value(front, "preheader", label),
        lists=tuple(lists),
        template=template,
        send_at=_send_at(settings, front, label),
        articles=articles,
        intro_md=front.body,
        folder=folder,
        intro_line=front.body_line,
        lines=dict(front.lines),
        segment=segment,
        utm={
            key: value
            for key in ("utm_source", "utm_medium", "utm_campaign")
            if (value := text_value(front, key, label))
        },
        variants=variants,
        ab_test=ab_test(front, label, variants),
        send_at_local=local,
    )


def list_issues(settings: Settings) -> list[IssueSummary]:
    """Every issue folder, newest name first; a folder that does not load shows its error."""
    if not settings.issues_dir.is_dir():
        return []
    rows: list[IssueSummary] = []
    for folder in sorted(settings.issues_dir.iterdir(), reverse=True):
        if not (folder / "issue.md").is_file():
            continue
        try:
            issue = load_issue(settings, folder.name)
        except NewsletterError as exc:
            rows.append(IssueSummary(folder.name, "", 0, (), None, error=str(exc)))
            continue
        rows.append(
            IssueSummary(issue.slug, issue.subject, len(issue.articles), issue.lists, issue.send_at)
        )
    return rows


# ---- writing -------------------------------------------------------------------------------
def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _front_matter_text(data: dict[str, Any]) -> str:
    dumped = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{dumped}---\n"


def write_article(folder: Path, filename: str, front_matter: dict[str, Any], body_md: str) -> Path:
    """Write ``folder/articles/<filename>`` (``.md`` added when missing); refuses to
    overwrite a file and refuses unknown keys. Returns the path written."""
    unknown = sorted(set(front_matter) - set(ARTICLE_KEYS))
    if unknown:
        raise ContentError(
            f"unknown front-matter key '{unknown[0]}'",
            fix=f"known keys: {', '.join(ARTICLE_KEYS)}",
        )
    if not front_matter.get("title"):
        raise ContentError("an article needs a title", fix="pass front_matter['title']")
    name = filename if filename.endswith(".md") else f"{filename}.md"
    if "/" in name or name.startswith("."):
        raise ContentError(f"'{name}' is not a plain file name", fix="use a name like 01-news.md")
    path = folder / "articles" / name
    if path.exists():
        raise ContentError("the article already exists", path=path, fix="choose another name")
    data = {k: front_matter[k] for k in ARTICLE_KEYS if front_matter.get(k) not in (None, "", [])}
    if "tags" in data:
        data["tags"] = list(data["tags"])
    _write_atomic(path, _front_matter_text(data) + "\n" + body_md.strip("\n") + "\n")
    return path


# What `issue new` writes until the editor replaces it; the check flags what is left.
PLACEHOLDER_SUBJECT = "{name}: a new issue"
PLACEHOLDER_PREHEADER = "A line that shows next to the subject in the inbox."
PLACEHOLDER_INTRO = "Hello! This is the editor's intro, written in Markdown."
PLACEHOLDER_TITLE = "Your first article"
PLACEHOLDER_BODY = "Write the article here in Markdown:"

ISSUE_SKELETON = """\
---
subject: {subject}
preheader: {preheader}
lists: [{lists}]
template: {template}
# articles: [01-first-article]   # their order; without this line: every articles/*.md by name
# send_at: 2026-12-01 09:00      # optional, in the newsletter's time zone
---

{intro}
"""

SAMPLE_ARTICLE = """\
---
title: Your first article
summary: One or two sentences that make people want to read on.
author: The editors
tags: [skin-care]
# image: images/photo.png        # relative to this issue's folder
# image_alt: What the picture shows, for people who cannot see it
# link: https://example.com/read-more
---

Write the article here in Markdown: **bold**, *italic*, [links](https://example.com),
lists and headings.
"""


def new_issue(
    settings: Settings,
    slug: str,
    *,
    subject: str = "",
    preheader: str = "",
    lists: list[str] | None = None,
    template: str = DEFAULT_TEMPLATE,
    intro_md: str = "",
    sample_article: bool = False,
) -> Path:
    """Create ``issues/<slug>/`` with an issue.md (and, if asked, a sample article).

    Without an ``articles:`` key the issue uses every ``articles/*.md`` in name order, so a
    caller can add articles with ``write_article`` without touching issue.md.
    """
    check_slug(slug)
    folder = settings.issues_dir / slug
    if folder.exists():
        raise ContentError(
            f"issue '{slug}' already exists",
            path=display_path(settings, folder),
            fix="choose another name or edit that folder",
        )
    chosen = lists or settings.list_slugs[:1]
    for name in chosen:
        if name not in settings.list_slugs:
            raise ContentError(
                f"unknown list '{name}'",
                fix=f"lists in newsletter.toml: {', '.join(settings.list_slugs) or 'none'}",
            )

    def quoted(value: str) -> str:
        return yaml.safe_dump(value, width=1000, allow_unicode=True).strip().removesuffix("\n...")

    text = ISSUE_SKELETON.format(
        subject=quoted(subject or PLACEHOLDER_SUBJECT.format(name=settings.newsletter.name)),
        preheader=quoted(preheader or PLACEHOLDER_PREHEADER),
        lists=", ".join(chosen),
        template=template,
        intro=intro_md.strip() or PLACEHOLDER_INTRO,
    )
    (folder / "articles").mkdir(parents=True)
    _write_atomic(folder / "issue.md", text)
    if sample_article:
        _write_atomic(folder / "articles" / "01-first-article.md", SAMPLE_ARTICLE)
    return folder
