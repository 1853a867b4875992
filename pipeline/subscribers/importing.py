"""Import subscribers from a CSV file, in batches, idempotently.

Each batch of rows (2,000 by default) is one transaction: an interrupted import (Ctrl-C,
kill, power cut) leaves whole batches in the database and nothing half-written, and
running the same command again completes it, because every row is applied as "make it so"
(a row that is already in the database changes nothing). Per batch there are a fixed number
of queries (existing addresses, subscriptions and suppressions are looked up with
``IN (...)``; writes are ``executemany``), never one query per row.

Rows that cannot be imported go to a rejects CSV (line, reason, the original columns).
A suppressed address is never subscribed again by an import.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, bindparam, update
from sqlalchemy.exc import IntegrityError

from pipeline.errors import SubscriberError
from pipeline.store.tables import (
    subscribers,
    subscription_log,
    subscriptions,
    suppressions,
    utcnow,
)
from pipeline.subscribers.bulk import Values, insert_rows, json_value, select_in
from pipeline.subscribers.csvsource import CsvSource, RawRow
from pipeline.subscribers.formats import Entry, Format, RowError, detect_format, recognisable
from pipeline.subscribers.history import list_ids
from pipeline.subscribers.normalise import normalise_email
from pipeline.subscribers.suppression import STATUS_FOR, hash_with_salt, suppression_salt

MAX_FIELD = 10_000  # characters in one cell
MAX_NAME = 200
BATCH_SIZE = 5000

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
            "rejects_file": str(self.rejects_path) if self.rejects_path else None,
        }


@dataclass(slots=True)
class _Item:
    line: int
    email: str
    digest: str
    entry: Entry
    list_ids: tuple[int, ...]


@dataclass
class _Context:
    fmt: Format
    header: list[str]
    keys: list[str]
    known: dict[str, int]
    default_lists: tuple[int, ...] | None
    default_status: str
    consent_text: str
    salt: str
    check_dns: bool


@dataclass(slots=True)
class _State:
    """What a batch knows about one address."""

    id: int | None
    name: str
    attributes: dict[str, Any]
    status: str
    subs: dict[int, str] = field(default_factory=dict)
    new: bool = False
    dirty: bool = False
    created_at: datetime | None = None


def default_rejects_path(path: Path) -> Path:
    return path.with_name(path.stem + ".rejects.csv")


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
        cells = [v if len(v) <= 1000 else v[:1000] + "…" for v in raw.fields]
        self._writer.writerow([raw.line, reason, *cells])

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
        ctx = _Context(
            fmt=fmt,
            header=source.header,
            keys=keys,
            known=known,
            default_lists=default_lists,
            default_status="confirmed" if confirmed else "unconfirmed",
            consent_text=path.name,
            salt=suppression_salt(engine),
            check_dns=check_dns,
        )
        report = ImportReport(path=path, format=fmt.name, delimiter=source.delimiter)
        rejects = _Rejects(rejects_path or default_rejects_path(path), source.header)
        # Duplicates within the file: the 64-bit hash of each address (or address and list)
        # -> its line. Hashes keep memory near 70 bytes a row for million-row files; two
        # different addresses share one about once in 30 million imports of 10^6 rows.
        seen: dict[int, int] = {}
        batch: list[_Item] = []
        conn = engine.connect()
        if conn.dialect.name == "sqlite":
            # 64 MB of page cache for the indexes. Foreign keys are not checked row by row:
            # every id written is read in the same (exclusive) transaction.
            # (PRAGMAs outside any transaction, on the driver's connection; NullPool closes it.)
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA cache_size=-65536")
            raw.execute("PRAGMA foreign_keys=OFF")
        rows = 0
        if progress is not None:
            progress(0, source.size)
        try:
            for raw in source.rows():
                rows += 1
                try:
                    item = _prepare(raw, ctx)
                    key = hash((item.email, item.list_ids) if fmt.key_by_list else item.email)
                    first = seen.get(key)
                    if first is not None:
                        raise RowError(f"duplicate: {item.email} is already on line {first}")
                    seen[key] = raw.line
                except RowError as exc:
                    rejects.add(raw, str(exc))
                    report.rejected += 1
                    continue
                batch.append(item)
                if len(batch) >= batch_size:
                    _commit(conn, batch, ctx, report)
                    batch = []
                    if progress is not None:
                        progress(source.position, source.size)
            if batch:
                _commit(conn, batch, ctx, report)
            if progress is not None:
                progress(source.size, source.size)
        finally:
            report.rows = rows
            conn.close()
            rejects.close()
    report.rejects_path = rejects.path if report.rejected else None
    return report


def _rows_name_lists(fmt: Format, keys: list[str]) -> bool:
    if fmt.has_lists and ("lists" in keys or "list" in keys):
        return True
    # Files that only suppress (Mailchimp's unsubscribed and cleaned exports) need no list.
    return fmt.name == "mailchimp" and ("unsub_time" in keys or "clean_time" in keys)


def _prepare(raw: RawRow, ctx: _Context) -> _Item:
    """Check and convert one row; RowError says why it cannot be imported."""
    if raw.error:
        raise RowError(raw.error)
    fields = raw.fields
    if len(fields) > len(ctx.keys):
        raise RowError(
            f"the row has {len(fields)} fields but the header has {len(ctx.keys)}"
            " (an unquoted delimiter?)"
        )
    if max(map(len, fields)) > MAX_FIELD:
        index, value = next((i, v) for i, v in enumerate(fields) if len(v) > MAX_FIELD)
        raise RowError(
            f"field {index + 1} ({ctx.header[index]}) is {len(value):,} characters long;"
            f" at most {MAX_FIELD:,} are allowed"
        )
    if len(fields) < len(ctx.keys):
        fields = fields + [""] * (len(ctx.keys) - len(fields))
    entry = ctx.fmt.convert(dict(zip(ctx.keys, fields, strict=True)))
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
    return _Item(raw.line, email, hash_with_salt(ctx.salt, email), entry, ids)


def _commit(conn: Connection, batch: list[_Item], ctx: _Context, report: ImportReport) -> None:
    """Apply one batch in one transaction; once more if a concurrent writer got in first."""
    try:
        with conn.begin():
            counts = _apply(conn, batch, ctx)
    except IntegrityError:
        with conn.begin():
            counts = _apply(conn, batch, ctx)
    for key, value in counts.items():
        setattr(report, key, getattr(report, key) + value)


SUB_COLUMNS = (
    "subscriber_id", "list_id", "status", "consent_at", "consent_method", "consent_text",
    "consent_ip", "confirmed_at", "confirm_ip", "unsubscribed_at", "updated_at",
)  # fmt: skip
LOG_COLUMNS = (
    "subscriber_id", "list_id", "action", "old_status", "new_status", "method", "detail",
    "ip", "at",
)  # fmt: skip


def _apply(conn: Connection, batch: list[_Item], ctx: _Context) -> Counter[str]:
    now = utcnow()
    values = Values(conn)
    restore = ctx.fmt.name == "newsletter"
    counts: Counter[str] = Counter()
    emails = list(dict.fromkeys(i.email for i in batch))
    digests = list(dict.fromkeys(i.digest for i in batch))
    supp: dict[str, str] = dict(
        select_in(
            conn,
            "SELECT address_hash, reason FROM suppressions WHERE address_hash IN ({marks})",
            digests,
        )
    )
    state: dict[str, _State] = {}
    for id_, email, name, attrs, status in select_in(
        conn,
        "SELECT id, email, name, attributes, status FROM subscribers WHERE email IN ({marks})",
        emails,
    ):
        state[email] = _State(id_, name, dict(json_value(attrs) or {}), status)
    by_id = {s.id: s for s in state.values()}
    for sid, list_id, sub_status in select_in(
        conn,
        "SELECT subscriber_id, list_id, status FROM subscriptions WHERE subscriber_id IN ({marks})",
        list(by_id),
    ):
        by_id[sid].subs[list_id] = sub_status

    now_v = values.time(now)
    detail_v = values.json({"file": ctx.consent_text})
    source = ("import: " + ctx.consent_text)[:200]
    new_supps: list[tuple[Any, ...]] = []
    to_suppress: list[tuple[_State, str]] = []
    sub_rows: list[tuple[_State, tuple[Any, ...]]] = []  # (whose, row without their id)
    confirms: list[dict[str, Any]] = []
    logs: list[tuple[_State, tuple[Any, ...]]] = []  # (whose, log row without their id)
    default_text, default_status = ctx.consent_text, ctx.default_status
    added = updated = unchanged = 0

    for item in batch:
        entry = item.entry
        reason = supp.get(item.digest)
        st = state.get(item.email)
        if entry.suppress is not None:
            counts["suppressed"] += 1
            if reason is None:
                supp[item.digest] = entry.suppress
                counts["newly_suppressed"] += 1
                new_supps.append((item.digest, entry.suppress, source, now_v))
                if st is not None and not st.new:
                    to_suppress.append((st, entry.suppress))
            continue
        if reason is not None or (st is not None and st.status != "active"):
            counts["suppressed"] += 1
            continue
        changed = False
        if st is None:
            st = _State(
                None,
                entry.name or "",
                entry.attributes,
                "active",
                new=True,
                created_at=entry.created_at or now,
            )
            state[item.email] = st
            outcome = 1
        else:
            outcome = 1 if st.new else 2
            if entry.name and entry.name != st.name:
                st.name, st.dirty, changed = entry.name, True, True
            if entry.attributes:
                merged = {**st.attributes, **entry.attributes}
                if merged != st.attributes:
                    st.attributes, st.dirty, changed = merged, True, True
        status = entry.status or default_status
        for list_id in item.list_ids:
            old = st.subs.get(list_id)
            if old is None:
                st.subs[list_id] = status
                consent_at = entry.consent_at if restore else entry.consent_at or now
                confirmed_at = entry.confirmed_at
                if not restore and status == "confirmed" and confirmed_at is None:
                    confirmed_at = consent_at
                unsubscribed_at = entry.unsubscribed_at
                if not restore and status == "unsubscribed" and unsubscribed_at is None:
                    unsubscribed_at = now
                text = entry.consent_text if entry.consent_text is not None else default_text
                sub_rows.append(
                    (
                        st,
                        (
                            list_id,
                            status,
                            values.time(consent_at),
                            entry.consent_method or "import",
                            text,
                            entry.consent_ip,
                            values.time(confirmed_at),
                            entry.confirm_ip,
                            values.time(unsubscribed_at),
                            now_v,
                        ),
                    )
                )
                logs.append(
                    (st, (list_id, "subscribe", None, status, "import", detail_v, None, now_v))
                )
                changed = True
            elif old == "unconfirmed" and status == "confirmed" and st.id is not None:
                st.subs[list_id] = "confirmed"
                confirms.append(
                    {
                        "b_sid": st.id,
                        "b_lid": list_id,
                        "b_at": entry.confirmed_at or now,
                        "b_ip": entry.confirm_ip,
                    }
                )
                logs.append(
                    (st, (list_id, "confirm", old, "confirmed", "import", detail_v, None, now_v))
                )
                changed = True
        if outcome == 1:
            added += 1
        elif changed:
            updated += 1
        else:
            unchanged += 1
    counts["added"] += added
    counts["updated"] += updated
    counts["unchanged"] += unchanged

    _write(conn, values, state, new_supps, to_suppress, sub_rows, confirms, logs, ctx, now)
    return counts


def _write(
    conn: Connection,
    values: Values,
    state: dict[str, _State],
    new_supps: list[tuple[Any, ...]],
    to_suppress: list[tuple[_State, str]],
    sub_rows: list[tuple[_State, tuple[Any, ...]]],
    confirms: list[dict[str, Any]],
    logs: list[tuple[_State, tuple[Any, ...]]],
    ctx: _Context,
    now: datetime,
) -> None:
    now_v = values.time(now)
    insert_rows(
        conn,
        suppressions,
        ("address_hash", "reason", "source", "created_at"),
        new_supps,
        ignore_conflicts=True,
    )
    fresh = [(email, st) for email, st in state.items() if st.new]
    if fresh:
        for (_, st), id_ in zip(fresh, _reserve_ids(conn, len(fresh)), strict=True):
            st.id = id_
        insert_rows(
            conn,
            subscribers,
            ("id", "email", "name", "attributes", "status", "created_at", "updated_at"),
            [
                (
                    st.id,
                    email,
                    st.name[:MAX_NAME],
                    values.json(st.attributes),
                    "active",
                    values.time(st.created_at),
                    now_v,
                )
                for email, st in fresh
            ],
        )
    dirty = [st for st in state.values() if st.dirty and not st.new]
    if dirty:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == bindparam("b_id"))
            .values(name=bindparam("b_name"), attributes=bindparam("b_attrs"), updated_at=now),
            [{"b_id": st.id, "b_name": st.name, "b_attrs": st.attributes} for st in dirty],
        )
    log_rows = [(st.id, *row) for st, row in logs]
    if to_suppress:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == bindparam("b_id"))
            .values(status=bindparam("b_status"), updated_at=now),
            [{"b_id": st.id, "b_status": STATUS_FOR[reason]} for st, reason in to_suppress],
        )
        ending = [st for st, reason in to_suppress if reason in ("unsubscribed", "manual")]
        if ending:
            conn.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.subscriber_id.in_([st.id for st in ending]),
                    subscriptions.c.status != "unsubscribed",
                )
                .values(status="unsubscribed", unsubscribed_at=now, updated_at=now)
            )
        for st, reason in to_suppress:
            detail = values.json({"file": ctx.consent_text, "reason": reason})
            log_rows.append(
                (
                    st.id,
                    None,
                    "suppress",
                    st.status,
                    STATUS_FOR[reason],
                    "import",
                    detail,
                    None,
                    now_v,
                )
            )
    insert_rows(conn, subscriptions, SUB_COLUMNS, [(st.id, *row) for st, row in sub_rows])
    if confirms:
        conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.subscriber_id == bindparam("b_sid"),
                subscriptions.c.list_id == bindparam("b_lid"),
                subscriptions.c.status == "unconfirmed",
            )
            .values(
                status="confirmed",
                confirmed_at=bindparam("b_at"),
                confirm_ip=bindparam("b_ip"),
                updated_at=now,
            ),
            confirms,
        )
    insert_rows(conn, subscription_log, LOG_COLUMNS, log_rows)


def _reserve_ids(conn: Connection, n: int) -> list[int]:
    """``n`` new subscriber ids: from the sequence on PostgreSQL; on SQLite, after the
    largest id (safe: the transaction holds the database's write lock, BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('subscribers', 'id'))"
            " FROM generate_series(1, %s)",
            (n,),
        )
        return [int(r[0]) for r in rows]
    last = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM subscribers").scalar_one()
    return list(range(int(last) + 1, int(last) + 1 + n))
