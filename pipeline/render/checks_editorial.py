"""Checks for what an editor gets wrong, each finding with file and line (part of
`newsletter issue check`; ``checks.check_issue`` runs them with the others).

Errors:
    link-scheme     a link or image whose scheme is not https, http or mailto (javascript:,
                    data:, vbscript:, file:, ...), in Markdown or front matter
    empty-link      a link with an empty target: [text]()
    empty-issue     no articles and no intro
    placeholder     text left unchanged from the `issue new` skeleton (its placeholder
                    subject, preheader, intro, or the sample article's title or body)
Warnings:
    raw-html        raw HTML in Markdown, which the email shows as text
    template-syntax ``{{ ... }}`` or ``{% ... %}`` in Markdown other than a
                    ``{{ recipient(...) }}`` call: the email prints it as written
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.content import markdown
from pipeline.content.issues import (
    PLACEHOLDER_BODY,
    PLACEHOLDER_INTRO,
    PLACEHOLDER_PREHEADER,
    PLACEHOLDER_SUBJECT,
    PLACEHOLDER_TITLE,
    display_path,
)
from pipeline.render.fields import without_calls
from pipeline.render.findings import Finding, clip, error, warning

if TYPE_CHECKING:
    from pipeline.content.models import Issue

ALLOWED_SCHEMES = ("https", "http", "mailto")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")  # browsers skip these inside a scheme


def scheme_of(url: str) -> str | None:
    """The lower-cased scheme of ``url`` as a browser reads it (``jav\\tascript:`` is
    ``javascript``), or None for a relative URL."""
    found = _SCHEME.match(_INVISIBLE.sub("", url))
    return found.group(1).lower() if found else None


def _scheme_finding(url: str, what: str, label: str, line: int | None) -> Finding | None:
    scheme = scheme_of(url)
    if scheme is None or scheme in ALLOWED_SCHEMES:
        return None
    return error(
        "link-scheme",
        f"{what} uses the {scheme}: scheme ({clip(url, 60)})",
        label,
        line,
        "use an https://, http:// or mailto: address; mail clients block or strip the rest",
    )


def _check_links(settings: Settings, issue: Issue) -> Iterator[Finding]:
    sources = [(display_path(settings, issue.path), issue.intro_md, issue.intro_line)]
    sources += [(display_path(settings, a.path), a.body_md, a.body_line) for a in issue.articles]
    for label, md, first in sources:
        for link in markdown.links(md):
            line = first + link.line - 1
            if not link.href.strip():
                yield error(
                    "empty-link",
                    "a link has an empty target: [text]()",
                    label,
                    line,
                    "put the address between the parentheses, or remove the brackets",
                )
            elif found := _scheme_finding(link.href, "a link", label, line):
                yield found
        for image in markdown.images(md):
            if found := _scheme_finding(image.src, "an image", label, first + image.line - 1):
                yield found
    for a in issue.articles:
        label = display_path(settings, a.path)
        for key in ("link", "source_link", "image"):
            found = _scheme_finding(getattr(a, key), f"{key}:", label, a.line_of(key))
            if found is not None:
                yield found


def _check_leftovers(settings: Settings, issue: Issue) -> Iterator[Finding]:
    label = display_path(settings, issue.path)
    fix = "replace it with your own text"
    if issue.subject == PLACEHOLDER_SUBJECT.format(name=settings.newsletter.name):
        yield error(
            "placeholder",
            "the subject is still the placeholder from 'issue new'",
            label,
            issue.line_of("subject"),
            fix,
        )
    if issue.preheader == PLACEHOLDER_PREHEADER:
        line = issue.line_of("preheader")
        yield error(
            "placeholder",
            "the preheader is still the placeholder from 'issue new'",
            label,
            line,
            fix,
        )
    if PLACEHOLDER_INTRO in issue.intro_md:
        line = issue.intro_line + issue.intro_md[: issue.intro_md.index(PLACEHOLDER_INTRO)].count(
            "\n"
        )
        yield error(
            "placeholder", "the intro is still the placeholder from 'issue new'", label, line, fix
        )
    for a in issue.articles:
        where = display_path(settings, a.path)
        if a.title == PLACEHOLDER_TITLE:
            yield error(
                "placeholder",
                "the title is still the sample article's from 'issue new'",
                where,
                a.line_of("title"),
                fix,
            )
        if PLACEHOLDER_BODY in a.body_md:
            line = a.body_line + a.body_md[: a.body_md.index(PLACEHOLDER_BODY)].count("\n")
            yield error(
                "placeholder",
                "the body is still the sample article's from 'issue new'",
                where,
                line,
                fix,
            )


def _check_raw_html(settings: Settings, issue: Issue) -> Iterator[Finding]:
    sources = [(display_path(settings, issue.path), issue.intro_md, issue.intro_line)]
    sources += [(display_path(settings, a.path), a.body_md, a.body_line) for a in issue.articles]
    for label, md, first in sources:
        seen: set[int] = set()
        for block in markdown.raw_html(md):
            line = first + block.line - 1
            if line in seen or block.text.startswith("</"):
                continue
            seen.add(line)
            yield warning(
                "raw-html",
                f"raw HTML shows as text in the email: {clip(block.text.splitlines()[0], 40)}",
                label,
                line,
                "write it in Markdown (**bold**, [link](https://...), lists), or escape the "
                "< as \\< if you meant the character",
            )


_TEMPLATE_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")


def _check_template_syntax(settings: Settings, issue: Issue) -> Iterator[Finding]:
    """Template tags in Markdown reach readers as written ("Hi {{ subscriber.nme }}")."""
    sources = [(display_path(settings, issue.path), issue.intro_md, issue.intro_line)]
    sources += [(display_path(settings, a.path), a.body_md, a.body_line) for a in issue.articles]
    for label, md, first in sources:
        fenced = False
        for number, text in enumerate(md.splitlines()):
            if text.lstrip().startswith(("```", "~~~")):
                fenced = not fenced  # a code block shows what it holds, on purpose
                continue
            found = None if fenced else _TEMPLATE_SYNTAX.search(without_calls(text))
            if found is not None:
                yield warning(
                    "template-syntax",
                    f"{clip(found.group(0), 40)} is printed as written: Markdown files are "
                    "not templates",
                    label,
                    first + number,
                    "in Markdown only {{ recipient('field', 'default') }} is filled in, per "
                    "reader (docs/audience.md); anything else belongs in a template",
                )


def check_editorial(settings: Settings, issue: Issue) -> Iterator[Finding]:
    """Every editorial check on a loaded issue."""
    if not issue.articles and not issue.intro_md.strip():
        yield error(
            "empty-issue",
            "the issue has no articles and no intro",
            display_path(settings, issue.path),
            1,
            "write an intro below the front matter, or add articles/*.md",
        )
    yield from _check_links(settings, issue)
    yield from _check_leftovers(settings, issue)
    yield from _check_raw_html(settings, issue)
    yield from _check_template_syntax(settings, issue)
