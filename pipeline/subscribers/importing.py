"""Import subscribers from a CSV file, in batches, idempotently.

Each batch of rows (10,000 by default) is one transaction: an interrupted import (Ctrl-C,
kill, power cut) leaves whole batches in the database and nothing half-written, and
running the same command again completes it, because every row is applied as "make it so"
(a row that is already in the database changes nothing). ``batches`` writes each batch
with a fixed number of queries, never one query per row.

Rows that cannot be imported go to a rejects CSV (line, reason, the original columns;
cells a spreadsheet would run as formulas are escaped), by default under the project's
``var/rejects/`` (never beside the input file, which may be a shared or read-only folder).
A suppressed address is never subscribed again by an import.

While it runs, the importing connection (SQLite) has PRAGMAs of its own (``_tuned``) and the
process's automatic garbage collection is off (``pipeline.gcpause``: on its own schedule
it ran full collections again and again, as every row's objects live through a few young
collections before their batch is written: 14% of a 1,000,000-row import), the import
collecting the young objects after each batch itself; both are put back when it ends.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from pipeline.csvcells import safe_cell
from pipeline.errors import SubscriberError
from pipeline.gcpause import collector_paused
from pipeline.subscribers.batches import MAX_NAME, Context, Item, apply_batch
from pipeline.subscribers.csvsource import CsvSource, RawRow
from pipeline.subscribers.formats import (
    Format,
    RowError,
    ambiguous_dates,
    detect_format,
    recognisable,
)
from pipeline.subscribers.history import list_ids
from pipeline.subscribers.normalise import normalise_email
from pipeline.subscribers.seen import SeenKeys
from pipeline.subscribers.suppression import salted_hasher, suppression_salt

MAX_FIELD = 10_000  # characters in one cell
# Rows a batch (one transaction). Each batch rewrites thousands of pages of the two indexes
# that take random keys (email, public_id), however few of its rows land on each: 10,000
# rows a batch write about a quarter fewer pages a row than 5,000 did, which made a
# 1,000,000-row import some 6% faster for 14 MB more (bench/bench_import.py: 138 MB).
BATCH_SIZE = 10_000
# SQLite page cache while importing (KiB). The indexes of a million subscribers outgrow any
# cache worth having (measured again at 1,000,000 rows: 8 MB a little slower, 32 MB a little
# faster for 20 MB more of the 150 MB the import may use).
CACHE_KIB = 16 * 1024
# SQLite checkpoints the WAL into the database once it holds this many pages (80 MB) while
# importing, not after every 1,000 (4 MB, the default): each batch writes over 8,000 pages,
# most of them of the two indexes that take random keys (email, public_id), so the default
# copied every batch's pages (and waited for the disk) at once, although the next batches
# write most of them again; a checkpoint copies each page once, however often it changed.
# Nothing is less safe: each batch is still one transaction, whole in the WAL or absent.
WAL_PAGES = 20_000

Progress = Callable[[int, int], None]  # (bytes done, bytes in the file)


@dataclass
class ImportReport:
    path: Path
    format: str
    delimiter: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0  # rows not subscribed because the address is (now) suppressed
    newly_suppressed: int = 0  # of those, addresses this import suppressed
    rejected: int = 0
    rejects_path: Path | None = None
    ambiguous_dates: int = 0  # slash dates read month-first that could be day-first
    ambiguous_example: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "format": self.format,
            "rows": self.rows,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "suppressed": self.suppressed,
            "newly_suppressed": self.newly_suppressed,
            "rejected": self.rejected,
            "ambiguous_dates": self.ambiguous_dates,
            "rejects_file": str(self.rejects_path) if self.rejects_path else None,
        }


def default_rejects_path(path: Path, rejects_dir: Path | None = None) -> Path:
    """``rejects_dir/<name>.rejects.csv`` (the CLI passes ``var/rejects``), else beside
    the file."""
    name = path.stem + ".rejects.csv"
    return rejects_dir / name if rejects_dir is not None else path.with_name(name)


class _Rejects:
    """The rejects CSV, opened on the first rejected row."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self.header = header
        self._fh: TextIO | None = None
        self._writer: Any = None

    def add(self, raw: RawRow, reason: str) -> None:
        if self._writer is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("w", encoding="utf-8", newline="")
            except OSError as exc:
                raise SubscriberError(
                    f"cannot write the rejects file: {exc.strerror}",
                    path=self.path,
                    fix="name another file with --rejects PATH and run the import again",
                ) from None
            self._writer = csv.writer(self._fh)
            self._writer.writerow(["line", "reason", *self.header])
        cells = [safe_cell(v if len(v) <= 1000 else v[:1000] + "…") for v in raw.fields]
        self._writer.writerow([raw.line, safe_cell(reason), *cells])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def import_subscribers(
    engine: Engine,
    path: Path,
    *,
    lists: Sequence[str] | None = None,
    format: str | None = None,
    confirmed: bool = True,
    check_dns: bool = False,
    rejects_path: Path | None = None,
    rejects_dir: Path | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    """Import ``path`` into ``lists`` (or the lists its rows name).

    Rows count as confirmed unless ``confirmed=False`` or the row says otherwise: the person
    importing states that these people agreed to receive the newsletter (consent method
    'import', consent text the file name, times and IPs from the file when it has them).
    """
    path = Path(path)
    with CsvSource(path, recognisable) as source:
        fmt = detect_format(source.header, format)
        keys = [h.lower() for h in source.header]
        with engine.connect() as conn:
            known = list_ids(conn)
            chosen = list_ids(conn, list(dict.fromkeys(lists))) if lists else None
        default_lists = tuple(chosen.values()) if chosen else None
        if default_lists is None and len(known) == 1:
            default_lists = tuple(known.values())
        if default_lists is None and not _rows_name_lists(fmt, keys):
            raise SubscriberError(
                "which lists? the file has no 'lists' column",
                path=path,
                fix="name them with --list SLUG (known lists: "
                + (", ".join(sorted(known)) or "none")
                + ")",
            )
        salt = suppression_salt(engine)
        ctx = Context(
            fmt=fmt,
            header=source.header,
            keys=keys,
            known=known,
            default_lists=default_lists,
            default_status="confirmed" if confirmed else "unconfirmed",
            consent_text=path.name,
            salt=salt,
            check_dns=check_dns,
            digest=salted_hasher(salt),
        )
        report = ImportReport(path=path, format=fmt.name, delimiter=source.delimiter)
        rejects = _Rejects(rejects_path or default_rejects_path(path, rejects_dir), source.header)
        # Duplicates within the file: the 64-bit hash of each address (or address and list)
        # -> its line, in flat arrays (12-24 bytes a row; see seen.py).
        seen = SeenKeys()
        batch: list[Item] = []
        conn = engine.connect()
        rows = 0
        dates: list[str] = []
        token = ambiguous_dates.set(dates)
        try:
            with _tuned(conn), collector_paused:
                if progress is not None:
                    progress(0, source.size)
                for raw in source.rows():
                    rows += 1
                    try:
                        item = _prepare(raw, ctx)
                        key = hash((item.email, item.list_ids) if fmt.key_by_list else item.email)
                        first = seen.first_line(key, raw.line)
                        if first is not None:
                            raise RowError(f"duplicate: {item.email} is already on line {first}")
                    except RowError as exc:
                        rejects.add(raw, str(exc))
                        report.rejected += 1
                        if report.rejected % batch_size == 0:
                            gc.collect(1)
                        continue
                    batch.append(item)
                    if len(batch) >= batch_size:
                        _commit(conn, batch, ctx, report)
                        batch = []
                        gc.collect(1)  # the young generations: what the batch left behind
                        if progress is not None:
                            progress(source.position, source.size)
                if batch:
                    _commit(conn, batch, ctx, report)
                if progress is not None:
                    progress(source.size, source.size)
        finally:
            ambiguous_dates.reset(token)
            report.rows = rows
            report.ambiguous_dates = len(dates)
            report.ambiguous_example = dates[0] if dates else ""
            conn.close()
            rejects.close()
    report.rejects_path = rejects.path if report.rejected else None
    return report


@contextlib.contextmanager
def _tuned(conn: Connection) -> Iterator[None]:
    """The importing connection's PRAGMAs (SQLite), put back as they were afterwards:
    CACHE_KIB of page cache for the indexes, checkpoints every WAL_PAGES pages, and foreign
    keys not checked row by row (every id written is read in the same exclusive
    transaction). Set outside any transaction, on the driver's connection."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    wanted = {"cache_size": -CACHE_KIB, "wal_autocheckpoint": WAL_PAGES, "foreign_keys": 0}
    before = {name: int(raw.execute(f"PRAGMA {name}").fetchone()[0]) for name in wanted}
    for name, value in wanted.items():
        raw.execute(f"PRAGMA {name}={value}")
    try:
        yield
    finally:
        # (A failure here must not hide the import's own; NullPool closes the connection.)
        with contextlib.suppress(sqlite3.Error):
            for name, value in before.items():
                raw.execute(f"PRAGMA {name}={value}")


def _rows_name_lists(fmt: Format, keys: list[str]) -> bool:
    if fmt.has_lists and ("lists" in keys or "list" in keys):
        return True
    # Files that only suppress (Mailchimp's unsubscribed and cleaned exports) need no list.
    return fmt.name == "mailchimp" and ("unsub_time" in keys or "clean_time" in keys)


def _prepare(raw: RawRow, ctx: Context) -> Item:
    """Check and convert one row; RowError says why it cannot be imported."""
    if raw.error:
        raise RowError(raw.error)
    fields, keys = raw.fields, ctx.keys
    count, width = len(fields), len(keys)
    if count != width:
        if count == 1 and width > 1:
            raise RowError(
                f"the row has 1 field but the header has {width} (a line cut short or "
                "a stray line; listmonk skips such rows too)"
            )
        if count > width:
            raise RowError(
                f"the row has {count} fields but the header has {width} (an unquoted delimiter?)"
            )
    if max(map(len, fields)) > MAX_FIELD:
        index, value = next((i, v) for i, v in enumerate(fields) if len(v) > MAX_FIELD)
        raise RowError(
            f"field {index + 1} ({ctx.header[index]}) is {len(value):,} characters long;"
            f" at most {MAX_FIELD:,} are allowed"
        )
    if count < width:
        fields = fields + [""] * (width - count)
    entry = ctx.fmt.convert(dict(zip(keys, fields, strict=True)))
    try:
        email = normalise_email(entry.email, check_dns=ctx.check_dns)
    except SubscriberError as exc:
        raise RowError(exc.what) from None
    if entry.name is not None:
        entry.name = entry.name.strip()
        if len(entry.name) > MAX_NAME:
            raise RowError(
                f"the name is {len(entry.name):,} characters long; at most {MAX_NAME} are allowed"
            )
    ids: tuple[int, ...] = ()
    if entry.suppress is None:
        if entry.lists is None:
            if ctx.default_lists is None:
                raise RowError("no list: fill the 'lists' column or use --list")
            ids = ctx.default_lists
        else:
            unknown = [s for s in entry.lists if s not in ctx.known]
            if unknown:
                raise RowError(
                    f"unknown list {unknown[0]!r} (known lists: {', '.join(sorted(ctx.known))})"
                )
            ids = tuple(dict.fromkeys(ctx.known[s] for s in entry.lists))
    return Item(raw.line, email, ctx.digest(email), entry, ids)


def _commit(conn: Connection, batch: list[Item], ctx: Context, report: ImportReport) -> None:
    """Apply one batch in one transaction; once more if a concurrent writer got in first."""
    try:
        with conn.begin():
            counts = apply_batch(conn, batch, ctx)
    except IntegrityError:
        with conn.begin():
            counts = apply_batch(conn, batch, ctx)
    for key, value in counts.items():
        setattr(report, key, getattr(report, key) + value)
