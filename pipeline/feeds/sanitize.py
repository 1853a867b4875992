"""The email-safe HTML allowlist every piece of feed HTML passes through (nh3 / ammonia).

feedparser sanitises too, but leaves numeric-entity-encoded ``javascript:`` URLs in place
(its issues #12 and #509), so its output is never trusted: nh3 parses the HTML again, which
decodes entities before URLs are checked.

Kept: text formatting, lists, tables, links and images. Dropped with their content: script,
style, iframe, object, embed, form and friends. No ``on*``, ``style`` or ``class``
attributes at all (so no CSS ``expression()``). URLs: http, https and mailto; ``data:`` only
for images, only raster types, and only when ``[feeds] allow_data_images`` is true. Relative
URLs are resolved against the entry's link (or dropped when there is none). A URL that
contains ``javascript:`` or ``vbscript:`` anywhere (even percent-encoded in a path or query)
is dropped too. Links get ``rel="noopener"``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import nh3

TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div",
        "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span",
        "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr",
        "u", "ul",
    }
)  # fmt: skip

# Removed together with everything inside them.
DROP_WITH_CONTENT = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
        "noscript", "template", "textarea", "select", "button", "svg", "math", "title",
        "noembed", "noframes", "xmp", "head", "meta", "link", "base",
    }
)  # fmt: skip

ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "abbr": {"title"},
    "q": {"cite"},
    "blockquote": {"cite"},
    "time": {"datetime"},
    "ol": {"start"},
}

SCHEMES = frozenset({"http", "https", "mailto"})
URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
DATA_IMAGE = re.compile(r"^data:image/(png|jpe?g|gif|webp);base64,[a-z0-9+/=\s]+$", re.I)
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_SCRIPTY = re.compile(r"(java|vb|live)script:", re.I)


def url_scheme(url: str) -> str:
    """The scheme of ``url`` as a browser would read it (control characters and blanks
    removed, lower-cased); '' for a relative URL."""
    squeezed = _CONTROL.sub("", html.unescape(url))
    found = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", squeezed)
    return found.group(1).lower() if found else ""


def safe_url(url: str, *, allow_data_images: bool = False, image: bool = False) -> str | None:
    """``url`` if a reader may follow or load it from an email, else None."""
    scheme = url_scheme(url)
    if scheme in SCHEMES:
        return url.strip()
    if scheme == "data" and image and allow_data_images and DATA_IMAGE.match(url.strip()):
        return url.strip()
    return None


def _filter(allow_data_images: bool) -> Callable[[str, str, str], str | None]:
    def check(element: str, attribute: str, value: str) -> str | None:
        if attribute in URL_ATTRIBUTES:
            if _SCRIPTY.search(_CONTROL.sub("", unquote(value))):
                return None  # e.g. "/x/%20javascript:..." or "?next=javascript:": no need
            if not url_scheme(value):
                return value  # relative: nh3 resolves or drops it (url_relative)
            is_image = element == "img" and attribute == "src"
            return safe_url(value, allow_data_images=allow_data_images, image=is_image)
        return value

    return check


@lru_cache(maxsize=256)
def _cleaner(base: str, allow_data_images: bool) -> nh3.Cleaner:
    schemes = set(SCHEMES) | ({"data"} if allow_data_images else set())
    options: dict[str, Any] = {
        "tags": set(TAGS),
        "clean_content_tags": set(DROP_WITH_CONTENT),
        "attributes": {tag: set(names) for tag, names in ATTRIBUTES.items()},
        "attribute_filter": _filter(allow_data_images),
        "strip_comments": True,
        "link_rel": "noopener",
        "url_schemes": schemes,
        "url_relative": ("rewrite_with_base", base) if base else "deny",
    }
    return nh3.Cleaner(**options)


def _base(link: str | None) -> str:
    if not link:
        return ""
    parts = urlsplit(link.strip())
    if parts.scheme in ("http", "https") and parts.netloc:
        return link.strip()
    return ""


def sanitize_html(
    fragment: str, *, base_url: str | None = None, allow_data_images: bool = False
) -> str:
    """``fragment`` cleaned to the email-safe allowlist, relative URLs resolved against
    ``base_url`` (the entry's link)."""
    if not fragment:
        return ""
    return _cleaner(_base(base_url), allow_data_images).clean(fragment).strip()


def html_to_text(fragment: str) -> str:
    """The readable text of an HTML fragment (tags dropped, entities decoded, blanks squeezed)."""
    if not fragment:
        return ""
    stripped = nh3.clean(fragment, tags=set(), clean_content_tags=set(DROP_WITH_CONTENT))
    return " ".join(html.unescape(stripped).split())
