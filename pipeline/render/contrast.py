"""Text contrast in rendered email HTML (WCAG 2 contrast ratio of inline colours).

Walks the HTML with the standard library's parser, following each element's inline
``color`` and ``background-color`` (or ``bgcolor``), and reports text whose colour has a
ratio under 4.5:1 against the nearest background (white when none is set). Hidden elements
(``display:none``, e.g. the preheader) are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

MINIMUM = 4.5
VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_HEX = re.compile(r"^#([0-9a-f]{3}|[0-9a-f]{6})$")
_RGB = re.compile(r"^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)")
_NAMED = {"white": "#ffffff", "black": "#000000"}


def parse_color(value: str) -> tuple[int, int, int] | None:
    value = value.strip().lower().replace("!important", "").strip()
    value = _NAMED.get(value, value)
    hexed = _HEX.match(value)
    if hexed:
        digits = hexed.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    rgb = _RGB.match(value)
    if rgb:
        return (int(rgb.group(1)), int(rgb.group(2)), int(rgb.group(3)))
    return None


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hex_of(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


@dataclass(frozen=True)
class LowContrast:
    color: str
    background: str
    ratio: float
    text: str


def _style(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.partition(":")
        if sep:
            out[key.strip().lower()] = val.strip()
    return out


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        white = (255, 255, 255)
        self.stack: list[tuple[str, tuple[int, int, int], tuple[int, int, int] | None, bool]] = [
            ("", white, None, False)
        ]
        self.found: dict[tuple[str, str], LowContrast] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        _, bg, fg, hidden = self.stack[-1]
        values = {k: v or "" for k, v in attrs}
        style = _style(values.get("style", ""))
        if "none" in style.get("display", "") or style.get("opacity", "") == "0":
            hidden = True
        background = style.get("background-color") or style.get("background", "")
        parsed_bg = parse_color(background.split()[0]) if background else None
        parsed_bg = parsed_bg or parse_color(values.get("bgcolor", ""))
        bg = parsed_bg or bg
        color = parse_color(style.get("color", "")) if style.get("color") else None
        fg = color or fg
        if tag not in VOID:
            self.stack.append((tag, bg, fg, hidden))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        text = data.strip()
        _, bg, fg, hidden = self.stack[-1]
        if not text or hidden or fg is None:
            return
        if any(t in ("style", "title", "script") for t, *_ in self.stack):
            return
        ratio = contrast_ratio(fg, bg)
        if ratio < MINIMUM:
            key = (hex_of(fg), hex_of(bg))
            self.found.setdefault(key, LowContrast(key[0], key[1], round(ratio, 2), text[:40]))


def low_contrast(html: str) -> list[LowContrast]:
    """Each (colour, background) pair of visible text under 4.5:1, once."""
    walker = _Walker()
    walker.feed(html)
    walker.close()
    return list(walker.found.values())
