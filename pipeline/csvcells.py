"""CSV cells that a spreadsheet opens as text, never as a formula.

Excel, LibreOffice and Google Sheets run a cell that begins with ``=``, ``+``, ``-`` or ``@``
(and, in some versions, a tab or a carriage return) as a formula: ``=HYPERLINK(...)`` in a
subscriber's name becomes a live link in whoever opens the export (CSV injection, OWASP).
Such a cell is written with a leading apostrophe, which spreadsheets show as text; the
value is otherwise unchanged (our importer strips the apostrophe again: see
``unescape_cell``).
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """Undo ``safe_cell`` on a value read back from one of our exports."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value
