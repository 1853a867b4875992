"""What "nothing unsafe" means for stored feed HTML, as one assertion."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

FORBIDDEN_TAGS = ("script", "style", "iframe", "object", "embed", "form", "svg", "math")
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            self.attributes.append((tag, name, value or ""))

    handle_startendtag = handle_starttag


def problems(fragment: str) -> list[str]:
    """Every reason ``fragment`` is unsafe (empty when it is safe)."""
    found: list[str] = []
    lowered = fragment.lower()
    for tag in FORBIDDEN_TAGS:
        if f"<{tag}" in lowered:
            found.append(f"<{tag}> element")
    if re.search(r"<[^>]*\son[a-z]+\s*=", fragment, re.I):
        found.append("on* attribute")
    parser = _Attributes()
    parser.feed(fragment)
    parser.close()
    for tag, name, value in parser.attributes:
        squeezed = _CONTROL.sub("", html.unescape(value)).lower()
        if name.startswith("on"):
            found.append(f"{name}= on <{tag}>")
        if name == "style" or "expression(" in squeezed:
            found.append(f"style on <{tag}>")
        if squeezed.startswith(("javascript:", "vbscript:", "livescript:")):
            found.append(f"{name}={value!r} on <{tag}>")
        if squeezed.startswith("data:") and not (tag == "img" and name == "src"):
            found.append(f"data: URL in {name} on <{tag}>")
    # Inside any tag (text that merely shows such a string, escaped, is harmless).
    for tag in re.findall(r"<[^>]*>", fragment):
        decoded = _CONTROL.sub("", html.unescape(html.unescape(tag))).lower()
        for scheme in ("javascript:", "vbscript:"):
            if scheme in decoded:
                found.append(f"{scheme} in a tag after entity decoding")
    return found


def assert_safe(fragment: str, label: str = "") -> None:
    found = problems(fragment)
    assert not found, f"{label}: {found}\n{fragment[:500]}"
