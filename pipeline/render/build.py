"""Build an issue: load the folder, render HTML + text + web version once, run the checks.

    build = build_issue(settings, "2026-12-01-microneedling")
    build.compiled        # CompiledEdition: subject, HTML and text with recipient slots
    build.web_html        # the web version for the archive (no personal links)
    build.findings        # check findings; build.errors are the blocking ones
    write_build(settings, build)   # var/build/<slug>/email.html, email.txt, web.html

``write_build`` writes into a temporary folder and renames it into place, so a failed or
interrupted build never leaves half its files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pipeline.config import Settings
from pipeline.content import markdown
from pipeline.content.blocks import PRODUCT_KEYS, routine_groups
from pipeline.content.dates import format_day, issue_day
from pipeline.content.issues import load_issue
from pipeline.content.models import Article, Issue
from pipeline.render.assets import ImageRef, archive_prefix, resolve_image
from pipeline.render.brand import BRAND_DIR, brand_files, check_brand
from pipeline.render.checks import Finding, check_issue
from pipeline.render.email import render_email, render_web
from pipeline.render.fields import render_with_fields
from pipeline.render.fingerprint import hash_tree
from pipeline.render.personalise import CompiledEdition


@dataclass
class Build:
    """One issue, rendered once."""

    issue: Issue
    compiled: CompiledEdition
    web_html: str
    content_hash: str
    findings: list[Finding] = field(default_factory=list)
    images: dict[str, Path] = field(default_factory=dict)  # path in the issue -> file

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]


def sample_values(settings: Settings, slug: str) -> dict[str, str]:
    """The made-up recipient used for previews and for the size check."""
    base = settings.newsletter.base_url
    return {
        "first_name": "Reader",
        "name": "Reader Example",
        "email": "reader@example.com",
        "unsubscribe_url": f"{base}/unsubscribe/EXAMPLE-TOKEN",
        "preferences_url": f"{base}/preferences/EXAMPLE-TOKEN",
        "web_url": f"{base}/archive/{slug}",
    }


def issue_date(settings: Settings, issue: Issue, sent: datetime | None = None) -> str:
    """The date shown in the header, by the one rule of ``pipeline.content.dates``:
    ``sent`` is the edition's send time when the issue is frozen to be sent."""
    return format_day(
        issue_day(settings.newsletter.tz, sent=sent, send_at=issue.send_at, slug=issue.slug)
    )


def content_hash(settings: Settings, issue: Issue) -> str:
    """sha256 over the issue folder's files, the templates and the newsletter, brand and
    social settings."""
    digest = hashlib.sha256()
    for base in (issue.folder, settings.templates_dir):
        hash_tree(digest, base)
    for section in (settings.newsletter, settings.brand, settings.social):
        digest.update(section.model_dump_json().encode())
    return digest.hexdigest()


class _Images:
    def __init__(self, settings: Settings, issue: Issue) -> None:
        self.settings = settings
        self.issue = issue
        self.found: dict[str, Path] = {}

    def __call__(self, near: Path, src: str) -> str:
        ref: ImageRef = resolve_image(self.settings, self.issue.slug, self.issue.folder, near, src)
        if ref.rel is not None and ref.local is not None and not ref.problem:
            self.found[ref.rel] = ref.local
        return ref.url


def _block_context(article: Article, images: _Images) -> dict[str, Any]:
    """The fields of product, routine and expert-tip blocks (empty for other kinds)."""
    near = article.path.parent
    products = [
        {
            **{k: getattr(p, k) for k in PRODUCT_KEYS if k != "image"},
            "image_url": images(near, p.image) if p.image else "",
        }
        for p in article.products
    ]
    routine = [
        {"when": when, "steps": [{"text": s.text, "product": s.product} for s in steps]}
        for when, steps in routine_groups(article.steps)
    ]
    expert = None
    if article.expert is not None:
        e = article.expert
        expert = {
            "name": e.name,
            "title": e.title,
            "photo_url": images(near, e.photo) if e.photo else "",
            "photo_alt": e.photo_alt,
        }
    return {"products": products, "routine": routine, "expert": expert}


def _article_context(article: Article, images: _Images, web: bool) -> dict[str, Any]:
    near = article.path.parent
    return {
        **_block_context(article, images),
        "name": article.name,
        "kind": article.kind,
        "title": article.title,
        "summary": article.summary,
        "author": article.author,
        "tags": list(article.tags),
        "link": article.link,
        "source": article.source,
        "source_link": article.source_link,
        "image_url": images(near, article.image) if article.image else "",
        "image_alt": article.image_alt or "",
        "html": Markup(
            render_with_fields(
                article.body_md,
                lambda md: markdown.to_html(md, lambda s: images(near, s)),
                kind="html",
                web=web,
            )
        ),
        "text": render_with_fields(article.body_md, markdown.to_text, kind="text", web=web),
    }


def issue_context(
    settings: Settings, issue: Issue, *, web: bool = False, sent: datetime | None = None
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The template context of an issue, and the local images it uses (``web``: for the
    web version, where recipient(...) in Markdown shows its default)."""
    images = _Images(settings, issue)
    context = {
        "issue": {"slug": issue.slug, "subject": issue.subject, "lists": list(issue.lists)},
        "issue_date": issue_date(settings, issue, sent),
        "intro_html": Markup(
            render_with_fields(
                issue.intro_md,
                lambda md: markdown.to_html(md, lambda s: images(issue.folder, s)),
                kind="html",
                web=web,
            )
        ),
        "intro_text": render_with_fields(issue.intro_md, markdown.to_text, kind="text", web=web),
        "articles": [_article_context(a, images, web) for a in issue.articles],
    }
    return context, images.found


def _has_fields(issue: Issue) -> bool:
    return "recipient(" in issue.intro_md or any("recipient(" in a.body_md for a in issue.articles)


def build_issue(
    settings: Settings,
    slug: str,
    *,
    web: bool = True,
    recent: Sequence[tuple[str, str]] = (),
    fields: Container[str] | None = None,
    sent: datetime | None = None,
    folder: Path | None = None,
) -> Build:
    """Load, render and check ``issues/<slug>`` (or ``folder``, a draft copy of it). Raises
    ContentError or RenderError (naming file and line) when the issue cannot be rendered at
    all; check problems are returned as findings. ``recent`` (slug, text part of editions
    sent lately) adds the check against them: ``pipeline.sending.editions.build_checked``
    reads and passes them."""
    issue = load_issue(settings, slug, folder=folder)
    context, images = issue_context(settings, issue, sent=sent)
    compiled = render_email(
        settings,
        issue.template,
        context,
        subject=issue.subject,
        preheader=issue.preheader,
    )
    compiled.meta["slug"] = issue.slug
    web_html = ""
    if web:
        web_context = (
            issue_context(settings, issue, web=True, sent=sent)[0]
            if _has_fields(issue)
            else context
        )
        web_html = render_web(
            settings, issue.template, web_context, subject=issue.subject, preheader=issue.preheader
        )
    findings = check_brand(settings) + check_issue(
        settings,
        issue,
        compiled,
        web_html=web_html,
        sample=sample_values(settings, slug),
        recent=recent,
        fields=fields,
    )
    return Build(issue, compiled, web_html, content_hash(settings, issue), findings, images)


def variant_editions(
    settings: Settings, issue: Issue, *, sent: datetime | None = None
) -> list[CompiledEdition]:
    """The email compiled once per subject variant of an A/B test (``subject_variants:``):
    the same body, each with its subject and preheader (the issue's when it has none)."""
    if not issue.variants:
        return []
    context, _ = issue_context(settings, issue, sent=sent)
    out = []
    for variant in issue.variants:
        compiled = render_email(
            settings,
            issue.template,
            context,
            subject=variant.subject,
            preheader=variant.preheader or issue.preheader,
        )
        compiled.meta["slug"] = issue.slug
        out.append(compiled)
    return out


def preview_html(settings: Settings, slug: str, html: str) -> str:
    """``html`` with archive image URLs made relative, for the files in var/build."""
    brand = f"{settings.newsletter.base_url}/{BRAND_DIR}/"
    return html.replace(archive_prefix(settings, slug), "").replace(brand, f"{BRAND_DIR}/")


def write_build(settings: Settings, build: Build) -> dict[str, Path]:
    """Write var/build/<slug>/ (email.html for a sample reader, email.txt, web.html, images)
    atomically: into a temporary folder first, then renamed into place."""
    slug = build.issue.slug
    target = settings.build_dir / slug
    settings.build_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{slug}.", dir=settings.build_dir))
    try:
        personal = build.compiled.personalise(sample_values(settings, slug))
        files = {
            "email.html": preview_html(settings, slug, personal.html),
            "email.txt": personal.text,
        }
        if build.web_html:
            files["web.html"] = preview_html(settings, slug, build.web_html)
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        for rel, source in {**brand_files(settings), **build.images}.items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{slug}.old.", dir=settings.build_dir))
            os.replace(target, old / slug)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {name: target / name for name in files}
