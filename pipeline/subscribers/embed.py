"""The embeddable signup form: an HTML snippet that a brand site or a link-in-bio page
pastes. It posts cross-site to ``/subscribe``; the app accepts it only from the origins in
``web.embed_origins``, with the ALTCHA proof of work, the rate limits and double opt-in
instead of the CSRF cookie (docs/security.md)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from pipeline.config import Settings
from pipeline.errors import ConfigError


def embed_snippet(settings: Settings, lists: Sequence[str] | None = None) -> str:
    """The HTML to paste (a form, the widget and its script, all from ``base_url``)."""
    chosen = list(lists or settings.list_slugs)
    unknown = [s for s in chosen if s not in settings.list_slugs]
    if unknown:
        raise ConfigError(
            f"unknown list {unknown[0]!r}",
            fix=f"use one of: {', '.join(settings.list_slugs)}",
        )
    base = escape(settings.newsletter.base_url, quote=True)
    name = escape(settings.newsletter.name)
    consent = escape(settings.web.consent_text.replace("{name}", settings.newsletter.name))
    if len(chosen) == 1:
        choices = f'  <input type="hidden" name="lists" value="{escape(chosen[0], quote=True)}">\n'
    else:
        choices = "".join(
            f'  <label><input type="checkbox" name="lists" value="{escape(s, quote=True)}"'
            f" checked> {escape(item.name if (item := settings.list_named(s)) else s)}</label>\n"
            for s in chosen
        )
    altcha = (
        f'  <altcha-widget challenge="{base}/altcha/challenge" name="altcha" auto="onload">'
        "</altcha-widget>\n"
        if settings.web.altcha
        else ""
    )
    script = (
        f'<script src="{base}/static/vendor/altcha/altcha.min.js" async></script>\n'
        if settings.web.altcha
        else ""
    )
    return (
        f"<!-- {name} signup form. It works only on the sites listed in [web] embed_origins"
        " of newsletter.toml. -->\n"
        f'<form class="newsletter-signup" method="post" action="{base}/subscribe">\n'
        '  <label>Email address <input type="email" name="email" required'
        ' autocomplete="email"></label>\n'
        '  <label>Your first name (optional) <input type="text" name="name" maxlength="60"'
        ' autocomplete="given-name"></label>\n'
        f"{choices}"
        f'  <label><input type="checkbox" name="consent" value="yes" required> {consent}</label>\n'
        '  <div style="position:absolute;left:-10000px" aria-hidden="true"><input type="text"'
        ' name="website" tabindex="-1" autocomplete="off"></div>\n'
        f"{altcha}"
        '  <button type="submit">Subscribe</button>\n'
        "</form>\n"
        f"{script}"
    )
