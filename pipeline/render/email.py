"""Render an email: Jinja (MJML) -> mjml-python -> css-inline, plus its own text part.

``render_email`` is used for issues and for transactional emails (confirmation, welcome):
it renders ``templates/email/<template>.mjml.j2`` and ``templates/text/<template>.txt.j2``
with the same context and compiles the result for cheap per-recipient personalisation.
``render_web`` renders the same email template as the web version (no personal links), with
the preheader and the lead picture as ``<meta>`` tags the archive reads.
"""

from __future__ import annotations

import html
from typing import Any

from pipeline.config import Settings
from pipeline.render.environment import environments, render_template, show
from pipeline.render.mjml import check_mjml_template, mjml_to_html
from pipeline.render.personalise import CompiledEdition, compile_edition


def check_templates(settings: Settings, template: str) -> None:
    """Check the MJML structure of ``template``, the layout and the partials (cached by
    file content). Other emails' templates are not this email's business."""
    folder = settings.templates_dir / "email"
    paths = [folder / f"{template}.mjml.j2", folder / "layout.mjml.j2"]
    paths += sorted((folder / "partials").glob("*.mjml.j2"))
    for path in paths:
        if path.is_file():
            check_mjml_template(path, show(settings, str(path)))


def _context(context: dict[str, Any], subject: str, preheader: str) -> dict[str, Any]:
    return {**context, "subject": subject, "preheader": preheader}


def render_email(
    settings: Settings,
    template: str,
    context: dict[str, Any],
    *,
    subject: str,
    preheader: str = "",
) -> CompiledEdition:
    """The compiled email (subject, HTML, text) for ``template`` and ``context``."""
    check_templates(settings, template)
    envs = environments(settings)
    ctx = _context(context, subject, preheader)
    name = f"email/{template}.mjml.j2"
    source = render_template(settings, envs.email, name, ctx)
    html = mjml_to_html(
        source, label=show(settings, str(settings.templates_dir / name)), preheader=preheader
    )
    text = render_template(settings, envs.text, f"text/{template}.txt.j2", ctx)
    return compile_edition(subject, html, text, preheader=preheader, meta={"template": template})


def render_web(
    settings: Settings,
    template: str,
    context: dict[str, Any],
    *,
    subject: str,
    preheader: str = "",
) -> str:
    """The web version of ``template``: the same email, without any personal link."""
    envs = environments(settings)
    name = f"email/{template}.mjml.j2"
    source = render_template(settings, envs.web, name, _context(context, subject, preheader))
    out = mjml_to_html(source, label=show(settings, str(settings.templates_dir / name)))
    return out.replace("<head>", "<head>" + web_meta(preheader, lead_image(context)), 1)


def lead_image(context: dict[str, Any]) -> str:
    """The issue's lead picture: the first article's picture, else the first product's."""
    articles = context.get("articles", [])
    for article in articles:
        if article.get("kind", "article") == "article" and article.get("image_url"):
            return str(article["image_url"])
    for article in articles:
        for product in article.get("products", []):
            if product.get("image_url"):
                return str(product["image_url"])
    return ""


def web_meta(preheader: str, image: str) -> str:
    """What the archive reads from a web version: its preheader and lead picture."""
    tags = ""
    if preheader:
        tags += f'<meta name="description" content="{html.escape(preheader, quote=True)}">'
    if image:
        tags += f'<meta property="og:image" content="{html.escape(image, quote=True)}">'
    return tags
