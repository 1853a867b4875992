"""Text contrast in rendered email HTML (WCAG 2 contrast ratio of inline colours).

Walks the HTML with the standard library's parser, following each element's inline
``color`` and ``background-color`` (or ``bgcolor``), and reports text whose colour has a
ratio under 4.5:1 against the nearest background (white when none is set). Hidden elements
(``display:none``, e.g. the preheader) are skipped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

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


_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\"[^\"]*\"|'[^']*'|[^'\">])*)>")
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SKIP = frozenset({"style", "script", "title", "head"})

Colour = tuple[int, int, int]
Frame = tuple[str, Colour, Colour | None, bool]


def _open(tag: str, attrs: str, parent: Frame) -> Frame:
    _, bg, fg, hidden = parent
    values = {m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _ATTR.finditer(attrs)}
    style = _style(html.unescape(values.get("style", "")))
    if "none" in style.get("display", "") or style.get("opacity", "") == "0":
        hidden = True
    background = style.get("background-color") or style.get("background", "")
    parsed_bg = parse_color(background.split()[0]) if background else None
    bg = parsed_bg or parse_color(values.get("bgcolor", "")) or bg
    color = parse_color(style["color"]) if style.get("color") else None
    return (tag, bg, color or fg, hidden or tag in _SKIP)


def low_contrast(document: str) -> list[LowContrast]:
    """Each (colour, background) pair of visible text under 4.5:1, once."""
    body = document.find("<body")
    text = _COMMENT.sub("", document[body if body >= 0 else 0 :])
    stack: list[Frame] = [("", (255, 255, 255), None, False)]
    found: dict[tuple[str, str], LowContrast] = {}
    pos = 0
    for match in _TAG.finditer(text):
        data = text[pos : match.start()].strip()
        pos = match.end()
        _, bg, fg, hidden = stack[-1]
        if data and not hidden and fg is not None:
            ratio = contrast_ratio(fg, bg)
            key = (hex_of(fg), hex_of(bg))
            if ratio < MINIMUM and key not in found:
                snippet = html.unescape(data)[:40]
                found[key] = LowContrast(key[0], key[1], round(ratio, 2), snippet)
        closing, tag, attrs = match.group(1), match.group(2).lower(), match.group(3)
        if closing:
            for i in range(len(stack) - 1, 0, -1):
                if stack[i][0] == tag:
                    del stack[i:]
                    break
        elif tag not in VOID and not attrs.rstrip().endswith("/"):
            stack.append(_open(tag, attrs, stack[-1]))
    return list(found.values())
