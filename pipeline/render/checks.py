"""Checks before sending (`newsletter issue check`), each finding with file and line.

Errors (block scheduling and sending):
    unsubscribe     no unsubscribe link (HTML or text part)
    postal-address  no postal address (HTML or text part)
    size            HTML over Gmail's clipping threshold (102 KB)
    template        a template problem: unknown variable, Jinja or MJML error
    content         the issue folder does not load (front matter, missing file, not UTF-8)
    image-missing   a local image file that does not exist (or lies outside the issue)
    image-alt       an image without alt text
    dangling-list   a paragraph that introduces a list which never comes ("including:")
    duplicate       two articles that are near-duplicates, or an article that repeats one
                    sent lately (``recent``: the sending stage reads them)
Warnings:
    subject-length  subject over 78 characters
    preheader       no preheader
    http-link       a link with http:// instead of https://
    contrast        text colour under 4.5:1 against its background (WCAG AA)
What editors get wrong (link schemes, empty links, an empty issue, skeleton text left in,
raw HTML) is checked in ``checks_editorial``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.content import markdown
from pipeline.content.issues import display_path
from pipeline.content.similarity import THRESHOLD as DUPLICATE_THRESHOLD
from pipeline.content.similarity import overlap, shingles
from pipeline.render.assets import resolve_image
from pipeline.render.checks_editorial import check_editorial
from pipeline.render.contrast import low_contrast
from pipeline.render.findings import Finding as Finding
from pipeline.render.findings import clip as _clip
from pipeline.render.findings import error as error
from pipeline.render.findings import warning
from pipeline.render.personalise import CompiledEdition

if TYPE_CHECKING:
    from pipeline.content.models import Article, Issue

MAX_HTML_BYTES = 102 * 1024
MAX_SUBJECT = 78
_LOCAL_HOSTS = ("http://127.0.0.1", "http://localhost", "http://[::1]")


def _md_sources(settings: Settings, issue: Issue) -> Iterator[tuple[str, str, int, Path]]:
    """(label, markdown, first line in file, folder) for the intro and every article."""
    yield display_path(settings, issue.path), issue.intro_md, issue.intro_line, issue.folder
    for a in issue.articles:
        yield display_path(settings, a.path), a.body_md, a.body_line, a.path.parent


def _check_images(settings: Settings, issue: Issue) -> Iterator[Finding]:
    def check(label: str, line: int, near: Path, src: str, alt: str | None) -> Iterator[Finding]:
        ref = resolve_image(settings, issue.slug, issue.folder, near, src)
        if ref.problem == "missing":
            yield error(
                "image-missing",
                f"image '{src}' not found",
                label,
                line,
                "put the file in the issue folder or fix the path",
            )
        elif ref.problem == "outside":
            yield error(
                "image-missing",
                f"image '{src}' is outside the issue folder",
                label,
                line,
                "copy the image into the issue folder",
            )
        if not (alt or "").strip():
            yield error(
                "image-alt",
                f"image '{src}' has no alt text",
                label,
                line,
                "describe the picture for people who cannot see it: image_alt: ... or ![text](...)",
            )

    for a in issue.articles:
        if a.image:
            label = display_path(settings, a.path)
            yield from check(label, a.line_of("image"), a.path.parent, a.image, a.image_alt)
    for label, md, first, near in _md_sources(settings, issue):
        for img in markdown.images(md):
            yield from check(label, first + img.line - 1, near, img.src, img.alt)


def _check_markdown(settings: Settings, issue: Issue) -> Iterator[Finding]:
    for label, md, first, _near in _md_sources(settings, issue):
        for block in markdown.dangling_list_intros(md):
            yield error(
                "dangling-list",
                f"this paragraph introduces a list that never comes: "
                f"'{_clip_start(block.text.strip(), 60)}'",
                label,
                first + block.line - 1,
                "add the list after it, or rewrite the sentence",
            )
        for link in markdown.links(md):
            if link.href.startswith("http://"):
                yield _http(link.href, label, first + link.line - 1)
    for a in issue.articles:
        for key in ("link", "source_link", "image"):
            value = getattr(a, key)
            if value.startswith("http://"):
                yield _http(value, display_path(settings, a.path), a.line_of(key))


def _http(href: str, label: str, line: int | None) -> Finding:
    return warning(
        "http-link",
        f"link uses http:// ({_clip(href, 60)})",
        label,
        line,
        "use https:// so mail clients do not flag it",
    )


def _clip_start(text: str, size: int) -> str:
    return text if len(text) <= size else "…" + text[-(size - 1) :]


def _article_text(article: Article) -> str:
    return f"{article.title}\n{article.summary}\n{article.body_md}"


def _check_duplicates(
    settings: Settings, issue: Issue, recent: Sequence[tuple[str, str]]
) -> Iterator[Finding]:
    stories = [a for a in issue.articles if a.kind == "article"]
    sets = [shingles(_article_text(a)) for a in stories]
    for i, a in enumerate(stories):
        for j in range(i):
            score = overlap(sets[i], sets[j])
            if score >= DUPLICATE_THRESHOLD:
                yield error(
                    "duplicate",
                    f"near-duplicate of {stories[j].path.name} (similarity {score:.2f})",
                    display_path(settings, a.path),
                    1,
                    "keep one of the two articles, or merge them",
                )
    for slug, text in recent:
        sent = shingles(text)
        for a, own in zip(stories, sets, strict=True):
            score = overlap(own, sent)
            if score >= DUPLICATE_THRESHOLD:
                yield error(
                    "duplicate",
                    f"near-duplicate of an article sent in '{slug}' (similarity {score:.2f})",
                    display_path(settings, a.path),
                    1,
                    "readers got this recently; drop it or write something new",
                )


def _config_line(settings: Settings, key: str) -> tuple[str, int | None]:
    """newsletter.toml and the line that sets ``key`` (None when it is not in the file)."""
    path = settings.config_path
    if path is None or not path.is_file():
        return "newsletter.toml", None
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.strip().startswith(key):
            return path.name, number
    return path.name, None


def _template_line(settings: Settings, needle: str) -> tuple[str, int | None]:
    """The first template file and line that holds ``needle`` (case-insensitive)."""
    lowered = needle.lower()
    for path in sorted((settings.templates_dir / "email").rglob("*.j2")):
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            if lowered in line.lower():
                return display_path(settings, path), number
    return display_path(settings, settings.templates_dir / "email"), None


def _check_compiled(
    settings: Settings,
    issue: Issue,
    compiled: CompiledEdition,
    sample: Mapping[str, str],
    check_img_alt: bool = True,
) -> Iterator[Finding]:
    template = display_path(
        settings, settings.templates_dir / "email" / f"{issue.template}.mjml.j2"
    )
    text_template = display_path(
        settings, settings.templates_dir / "text" / f"{issue.template}.txt.j2"
    )
    for part, label in ((compiled.html, template), (compiled.text, text_template)):
        if "unsubscribe_url" not in part.fields:
            yield error(
                "unsubscribe",
                f"no unsubscribe link in the {part.kind} part",
                label,
                1,
                "add {{ recipient('unsubscribe_url') }} to the footer",
            )
    html = compiled.personalise(sample).html
    address = settings.newsletter.postal_address.strip()
    escaped = address.replace("&", "&amp;")
    if not address:
        yield error(
            "postal-address",
            "no postal address",
            *_config_line(settings, "postal_address"),
            "set newsletter.postal_address (the law requires it in every email)",
        )
    else:
        if escaped not in html and address not in html:
            yield error(
                "postal-address",
                "the postal address is not in the HTML part",
                template,
                1,
                "add {{ newsletter.postal_address }} to the footer",
            )
        if address not in compiled.text.fill(sample):
            yield error(
                "postal-address",
                "the postal address is not in the text part",
                text_template,
                1,
                "add {{ newsletter.postal_address }} to the footer",
            )
    size = len(html.encode("utf-8"))
    if size > MAX_HTML_BYTES:
        yield error(
            "size",
            f"the HTML is {size / 1024:.0f} KB; Gmail clips emails over 102 KB",
            display_path(settings, issue.path),
            1,
            "shorten the issue or move articles to the next one",
        )
    for tag in re.findall(r"<img\b[^>]*>", html) if check_img_alt else []:
        if not re.search(r"\balt=\"[^\"]+\"", tag):
            src = re.search(r"\bsrc=\"([^\"]*)\"", tag)
            where, line = _template_line(settings, "<mj-image")
            yield error(
                "image-alt",
                f"an image has no alt text in the HTML ({_clip(src.group(1) if src else '?', 60)})",
                where,
                line,
                "give every mj-image an alt attribute",
            )
    for low in low_contrast(html):
        where, line = _template_line(settings, low.color)
        yield warning(
            "contrast",
            f"text colour {low.color} on {low.background} has a contrast of {low.ratio}:1 "
            f'("{_clip(low.text, 30)}")',
            where,
            line,
            "use a darker text colour; WCAG asks for at least 4.5:1",
        )


def _check_front(settings: Settings, issue: Issue) -> Iterator[Finding]:
    label = display_path(settings, issue.path)
    if len(issue.subject) > MAX_SUBJECT:
        yield warning(
            "subject-length",
            f"the subject has {len(issue.subject)} characters; inboxes cut it after about 78",
            label,
            issue.line_of("subject"),
            "shorten it",
        )
    if not issue.preheader:
        yield warning(
            "preheader",
            "no preheader",
            label,
            issue.line_of("preheader"),
            "add 'preheader: ...', the line inboxes show next to the subject",
        )
    base = settings.newsletter.base_url
    if base.startswith("http://") and not base.startswith(_LOCAL_HOSTS):
        yield _http(base, *_config_line(settings, "base_url"))


def check_fields(compiled: CompiledEdition, known: Container[str]) -> list[Finding]:
    """Custom fields the templates use (``recipient('skin_type', ...)``) that are not
    ``known`` (no subscriber has them and newsletter.toml does not declare them; the
    subscribers stage says which are: ``pipeline.subscribers.tags.known_fields``)."""
    from pipeline.render.personalise import custom_fields

    used = custom_fields(compiled.fields)
    return [
        error(
            "recipient-field",
            f"unknown recipient field {name!r}: no subscriber has it",
            "templates/email",
            None,
            "check the spelling in recipient(...), import the field, or declare it in "
            "`audience.fields`",
        )
        for name in sorted(used)
        if name not in known
    ]


def check_issue(
    settings: Settings,
    issue: Issue,
    compiled: CompiledEdition,
    *,
    web_html: str = "",
    sample: Mapping[str, str] | None = None,
    recent: Sequence[tuple[str, str]] = (),
    fields: Container[str] | None = None,
) -> list[Finding]:
    """Every check on a loaded and rendered issue; errors first, then warnings.

    ``fields``: the custom recipient fields the audience has (None: not checked).

    ``recent`` is (slug, text part) of the editions sent lately, for the duplicate check;
    the sending stage reads them (``pipeline.sending.editions.recent_texts``)."""
    values = dict(sample or {})
    images = list(_check_images(settings, issue))
    content_alt = any(f.code == "image-alt" for f in images)
    findings: list[Finding] = [
        *_check_front(settings, issue),
        *images,
        *_check_markdown(settings, issue),
        *_check_duplicates(settings, issue, recent),
        *(check_fields(compiled, fields) if fields is not None else []),
        # An image without alt from the content is reported once, at its Markdown line.
        *_check_compiled(settings, issue, compiled, values, check_img_alt=not content_alt),
        *check_editorial(settings, issue),
    ]
    if web_html and "\ue000" in web_html:
        findings.append(
            error("template", "the web version holds a personal field", "templates/email", None)
        )
    findings.sort(key=lambda f: (f.level != "error", f.path, f.line or 0))
    return findings
