"""``{{ recipient('skin_type', 'every skin type') }}`` inside an issue's Markdown.

Markdown is not Jinja, so the call is found with a strict pattern, swapped for an opaque
marker (no spaces, so plain-text wrapping never cuts it) before Markdown runs, and the
marker becomes a personalisation placeholder afterwards: HTML-escaped default in HTML, raw
in text. In the web version (``web=True``) it becomes the default, never a personal value.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from pipeline.render.personalise import check_field_name, placeholder

_CALL = re.compile(
    r"""\{\{\s*recipient\(\s*'([^'\n]*)'\s*(?:,\s*'([^'\n]*)'\s*)?\)\s*\}\}"""
    r"""|\{\{\s*recipient\(\s*"([^"\n]*)"\s*(?:,\s*"([^"\n]*)"\s*)?\)\s*\}\}"""
)
_MARK = re.compile("\ue003(\\d+)\ue003")


def without_calls(md: str) -> str:
    """``md`` with its recipient(...) calls taken out (what is left is printed as written)."""
    return _CALL.sub("", md)


def render_with_fields(md: str, render: Callable[[str], str], *, kind: str, web: bool) -> str:
    """``render(md)`` with recipient(...) calls turned into placeholders (or defaults)."""
    calls: list[tuple[str, str]] = []

    def mark(match: re.Match[str]) -> str:
        name = match.group(1) if match.group(1) is not None else match.group(3)
        default = (match.group(2) if match.group(1) is not None else match.group(4)) or ""
        calls.append((check_field_name(name), default))
        return f"\ue003{len(calls) - 1}\ue003"

    marked = _CALL.sub(mark, md)
    out = render(marked)
    if not calls:
        return out

    def back(match: re.Match[str]) -> str:
        name, default = calls[int(match.group(1))]
        shown = html.escape(default, quote=True) if kind == "html" else default
        return shown if web else placeholder(name, shown)

    return _MARK.sub(back, out)
