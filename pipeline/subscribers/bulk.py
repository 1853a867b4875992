"""Fast multi-row INSERTs for imports: values converted once, handed to the DB driver.

SQLAlchemy's per-value type processing costs more than the database itself when an import
writes millions of rows, so imports prepare the values here (UTC datetimes in the form
SQLAlchemy stores them on SQLite, JSON as text) and call the driver's ``executemany``
directly. Reading goes through SQLAlchemy as usual and gets the same values back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_STR = json.encoder.encode_basestring


class Values:
    """Converters from Python values to what the driver of ``conn`` stores."""

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"
        self._times: dict[datetime, Any] = {}
        # The last time converted: a batch gives its one "now" several times a row, and an
        # identity test is cheaper than hashing an aware datetime.
        self._last: datetime | None = None
        self._last_done: Any = None

    def time(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if value is self._last:
            return self._last_done
        done = self._times.get(value)
        if done is None:
            utc = value.astimezone(UTC)
            done = utc.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else utc
            if len(self._times) < 10_000:
                self._times[value] = done
        self._last, self._last_done = value, done
        return done

    def json(self, value: Any) -> Any:
        if self.sqlite:
            if not value:
                return "{}"
            if type(value) is dict:
                # The usual attributes (CSV columns): flat text, encoded without the
                # general encoder's overhead; the same text json.dumps gives.
                parts = []
                for k, v in value.items():
                    if type(k) is not str or type(v) is not str:
                        return _ENCODE(value)
                    parts.append(_STR(k) + ":" + _STR(v))
                return "{" + ",".join(parts) + "}"
            return _ENCODE(value)
        from psycopg.types.json import Json

        return Json(value)


def insert_rows(
    conn: Connection,
    table: Table,
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """INSERT ``rows`` (tuples of driver values, in the order of ``names``) into ``table``
    in one executemany; ``ignore_conflicts`` skips rows whose key exists."""
    if not rows:
        return
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    marks = [mark] * len(names)
    if None in rows[0]:
        # A column that is NULL in every row is written NULL in the statement: binding a
        # None costs the sqlite3 module more than any other value (it looks for an adapter).
        columns = list(zip(*rows, strict=True))
        nulls = [i for i, column in enumerate(columns) if column.count(None) == len(column)]
        if nulls:
            for i in nulls:
                marks[i] = "NULL"
            kept = [c for i, c in enumerate(columns) if marks[i] != "NULL"]
            rows = list(zip(*kept, strict=True)) if kept else [()] * len(rows)
    sql = f'INSERT INTO "{table.name}" ({", ".join(names)}) VALUES ({", ".join(marks)})'
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    conn.exec_driver_sql(sql, list(rows))


def select_in(conn: Connection, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` whose ``{marks}`` stands for one placeholder per value (``IN ({marks})``)
    straight on the driver: SQLAlchemy's expanding IN costs more than the lookup."""
    if not values:
        return []
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    result = conn.exec_driver_sql(sql.format(marks=", ".join([mark] * len(values))), tuple(values))
    return [tuple(row) for row in result]


def json_value(value: Any) -> Any:
    """A JSON column read through the driver: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value
