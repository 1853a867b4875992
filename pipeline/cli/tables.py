"""Tables readable in an 80-column terminal: no word or date broken mid-way.

Columns are *fixed* (slugs, dates, states, numbers: shown whole when they fit) or *flexible*
(subjects, names, addresses, notes: they share what is left and are shortened with an
ellipsis). Rich then never wraps a cell onto a second line.
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

PADDING = 2  # one space each side of a cell
DIVIDER = 1  # between two columns (a space: no vertical lines)
MIN_FLEXIBLE = 6


@dataclass(frozen=True)
class Column:
    header: str
    flexible: bool = False
    justify: str = "left"


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
    room = width - PADDING * len(columns) - DIVIDER * (len(columns) - 1)
    caps = list(natural)
    over = sum(caps) - room
    # Too wide: shorten the widest flexible column a character at a time (so they end up
    # level), then, when they are all down to MIN_FLEXIBLE, the widest fixed one.
    for flexible in (True, False):
        while over > 0:
            fits = [i for i, c in enumerate(columns) if c.flexible == flexible]
            fits = [i for i in fits if caps[i] > MIN_FLEXIBLE]
            if not fits:
                break
            widest = max(fits, key=lambda i: caps[i])
            caps[widest] -= 1
            over -= 1
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for column, cap in zip(columns, caps, strict=True):
        table.add_column(
            column.header,
            justify=column.justify,  # type: ignore[arg-type]
            no_wrap=True,
            overflow="ellipsis",
            max_width=cap,
            min_width=min(cap, cell_len(column.header)),
        )
    for row in rows:
        # Plain text, never markup: a subject such as "[new] Winter skin" is shown whole.
        table.add_row(*(Text(cell) for cell in row))
    return table
