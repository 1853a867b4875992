"""MJML to email HTML: a static check of the MJML templates, mjml-python, css-inline, and
the finishing touches mjml-python leaves out.

mjml-python (the Rust MRML port) accepts unknown ``mj-*`` tags and unclosed tags without a
word, and its own errors carry no position, so the templates' MJML structure is checked
here first, with file and line: known tag names, balanced tags, and padding written with
units (MRML mis-sizes Outlook columns for a unitless ``0``).

Per-recipient placeholders (private-use code points) do not survive mjml-python, so they
are swapped for ASCII tokens around it and restored after.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import css_inline
import mjml

from pipeline.errors import RenderError

MJML_TAGS = frozenset(
    [
        "mjml",
        "mj-head",
        "mj-body",
        "mj-attributes",
        "mj-all",
        "mj-class",
        "mj-breakpoint",
        "mj-font",
        "mj-html-attributes",
        "mj-html-attribute",
        "mj-selector",
        "mj-preview",
        "mj-style",
        "mj-title",
        "mj-accordion",
        "mj-accordion-element",
        "mj-accordion-title",
        "mj-accordion-text",
        "mj-button",
        "mj-carousel",
        "mj-carousel-image",
        "mj-column",
        "mj-divider",
        "mj-group",
        "mj-hero",
        "mj-image",
        "mj-navbar",
        "mj-navbar-link",
        "mj-raw",
        "mj-section",
        "mj-social",
        "mj-social-element",
        "mj-spacer",
        "mj-table",
        "mj-text",
        "mj-wrapper",
        "mj-include",
    ]
)
# Tags whose content is HTML (or CSS), where mj-* tags are not looked for.
_CONTENT_TAGS = frozenset({"mj-text", "mj-style", "mj-raw", "mj-button", "mj-table"})

_JINJA = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)
_TAG = re.compile(r"<(/?)(mjml|mj-[a-z-]+)\b((?:\"[^\"]*\"|'[^']*'|[^'\">])*?)(/?)>", re.S)
_PADDING = re.compile(r"\b(padding(?:-top|-bottom|-left|-right)?)\s*=\s*\"([^\"]*)\"")
_UNITLESS = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.%])")

FILLER = "&zwnj;&nbsp;" * 90
COLOR_SCHEME_META = (
    '<meta name="color-scheme" content="light dark">'
    '<meta name="supported-color-schemes" content="light dark">'
)
_PLACEHOLDER = re.compile("\ue000[^\ue001]*\ue001")


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


@lru_cache(maxsize=64)
def _check_source(source: str, label: str) -> None:
    text = _JINJA.sub(_blank, source)
    stack: list[tuple[str, int]] = []
    for match in _TAG.finditer(text):
        closing, name, attrs, selfclosing = match.groups()
        line = text.count("\n", 0, match.start()) + 1
        inside = stack[-1][0] if stack else ""
        if inside in _CONTENT_TAGS and not (closing and name == inside):
            continue
        if name not in MJML_TAGS:
            raise RenderError(
                f"unknown MJML tag <{name}>",
                path=label,
                line=line,
                fix="see https://documentation.mjml.io for the tags MJML knows",
            )
        for key, value in _PADDING.findall(attrs):
            if _UNITLESS.search(value):
                raise RenderError(
                    f'{key}="{value}" has a number without a unit',
                    path=label,
                    line=line,
                    fix="write units, e.g. 0px (Outlook mis-sizes columns for a bare 0)",
                )
        if selfclosing:
            continue
        if not closing:
            stack.append((name, line))
            continue
        if not stack or stack[-1][0] != name:
            opened = f"<{stack[-1][0]}> from line {stack[-1][1]}" if stack else "nothing"
            raise RenderError(
                f"</{name}> closes {opened}",
                path=label,
                line=line,
                fix=f"close <{stack[-1][0]}> first" if stack else f"remove </{name}>",
            )
        stack.pop()
    if stack:
        name, line = stack[-1]
        raise RenderError(f"<{name}> is never closed", path=label, line=line, fix=f"add </{name}>")


def check_mjml_template(path: Path, label: str) -> None:
    """Check one MJML template file's tags (Jinja tags are ignored)."""
    _check_source(path.read_text(encoding="utf-8"), label)


def _protect(source: str) -> tuple[str, list[str]]:
    saved: list[str] = []

    def swap(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        return f"@@NLSLOT{len(saved) - 1}@@"

    return _PLACEHOLDER.sub(swap, source), saved


def _restore(html: str, saved: list[str]) -> str:
    if not saved:
        return html
    return re.sub(r"@@NLSLOT(\d+)@@", lambda m: saved[int(m.group(1))], html)


_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def mjml_to_html(source: str, *, label: str, preheader: str = "") -> str:
    """Email HTML from rendered MJML: CSS inlined, preheader with filler, color-scheme."""
    protected, saved = _protect(source)
    try:
        out = mjml.mjml2html(protected, disable_comments=True)
    except ValueError as exc:
        line = 1 + source.count("\n", 0, max(source.find("<mjml"), 0))
        raise RenderError(
            f"MJML error: {exc}", path=label, line=line, fix="check the MJML tags of the template"
        ) from None
    out = _with_units(_INLINER.inline(out))
    out = out.replace("<head>", "<head>" + COLOR_SCHEME_META + TABLE_RESET_STYLE, 1)
    if preheader:
        hidden = (
            '<div class="nl-preheader" style="display:none;font-size:1px;line-height:1px;'
            "max-height:0px;max-width:0px;opacity:0;overflow:hidden;mso-hide:all;"
            f'color:transparent">{_escape(preheader)}{FILLER}</div>'
        )
        body = re.search(r"<body[^>]*>", out)
        if body:
            out = out[: body.end()] + hidden + out[body.end() :]
    return _restore(out, saved)


_PADDING_DECL = re.compile(r"(padding(?:-top|-bottom|-left|-right)?\s*:\s*)([^;\"]*)")
_STYLE_ATTR = re.compile(r'\bstyle="[^"]*"')
_BARE_ZERO = re.compile(r"(?<![\w.])0(?![\w.%])")
# mjml's reset rule `table, td { border-collapse:collapse; mso-table-lspace:0pt;
# mso-table-rspace:0pt; }` stays in <head> (where mjml itself leaves it and Outlook reads
# it); copied onto every table and cell it made up an eighth of an email's bytes.
TABLE_RESET_STYLE = (
    '<style type="text/css">table, td { border-collapse: collapse; mso-table-lspace: 0pt;'
    " mso-table-rspace: 0pt; }</style>"
)
_TABLE_RESET = re.compile(r"border-collapse: collapse;\s*|mso-table-[lr]space: 0pt;\s*")


def _with_units(html: str) -> str:
    """Write inlined padding such as ``padding: 0`` (from mjml's reset CSS) as ``0px``,
    and leave mjml's table reset to the <head>."""

    def fix(match: re.Match[str]) -> str:
        return match.group(1) + _BARE_ZERO.sub("0px", match.group(2))

    def style(match: re.Match[str]) -> str:
        return _PADDING_DECL.sub(fix, _TABLE_RESET.sub("", match.group(0)))

    return _STYLE_ATTR.sub(style, html).replace(' style=""', "")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
