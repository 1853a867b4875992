"""Tables readable in an 80-column terminal: no word or date broken mid-way.

Columns are *fixed* (slugs, dates, states, numbers: shown whole when they fit), *flexible*
(subjects, names, addresses, notes: they share what is left and are shortened with an
ellipsis) or *wrapping* (times, lists, notes that must be read whole: when they do not fit
on one line they continue on the next, breaking only between words). Rich never wraps any
other cell onto a second line.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from pipeline.cli.app import console

GAP = 2  # between two columns: a space of padding and the (blank) divider
MIN_FLEXIBLE = 6


@dataclass(frozen=True)
class Column:
    header: str
    flexible: bool = False
    justify: str = "left"
    wrap: bool = False


def _longest_word(texts: Sequence[str]) -> int:
    return max((cell_len(word) for text in texts for word in text.split()), default=1)


def fit_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    width: int | None = None,
) -> Table:
    """A table of ``rows`` whose columns fit ``width`` (the terminal's by default)."""
    # COLUMNS, else the terminal, read now (the console may be older than either).
    width = width or shutil.get_terminal_size((console.width, 24)).columns
    natural = [
        max([cell_len(c.header), *(cell_len(r[i]) for r in rows)]) for i, c in enumerate(columns)
    ]
    floor = [
        _longest_word([c.header, *(r[i] for r in rows)]) if c.wrap else MIN_FLEXIBLE
        for i, c in enumerate(columns)
    ]
    room = width - GAP * (len(columns) - 1)
    caps = list(natural)
    over = sum(caps) - room
    # Too wide: first let the wrapping columns take more lines (down to their longest word:
    # nothing is lost), then shorten the widest flexible column a character at a time (so
    # they end up level), then, when they are all down to MIN_FLEXIBLE, the widest fixed one.
    for kind in ("wrap", "flexible", "fixed"):
        while over > 0:
            fits = [i for i, c in enumerate(columns) if _kind(c) == kind and caps[i] > floor[i]]
            if not fits:
                break
            widest = max(fits, key=lambda i: caps[i])
            caps[widest] -= 1
            over -= 1
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    for column, cap in zip(columns, caps, strict=True):
        table.add_column(
            column.header,
            justify=column.justify,  # type: ignore[arg-type]
            no_wrap=not column.wrap,
            overflow="fold" if column.wrap else "ellipsis",
            max_width=cap,
            min_width=cap if column.wrap else min(cap, cell_len(column.header)),
        )
    for row in rows:
        # Plain text, never markup: a subject such as "[new] Winter skin" is shown whole.
        table.add_row(*(Text(cell) for cell in row))
    return table


def _kind(column: Column) -> str:
    if column.wrap:
        return "wrap"
    return "flexible" if column.flexible else "fixed"
