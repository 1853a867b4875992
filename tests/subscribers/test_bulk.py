"""The values an import hands to the database driver: the same as SQLAlchemy's own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from pipeline.store.tables import subscription_log, suppressions
from pipeline.subscribers.bulk import Values, insert_rows


def _dumped(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


CASES: list[Any] = [
    {},
    {"city": "Leeds"},
    {"city": 'Say "hi"\\ \n\t\x00 é ✓ 😀', "skin_type": "oily"},
    {"given_name": "Zoë", "n": 3},
    {"nested": {"a": ["b", 1, None, True]}},
    {"": ""},
]


def test_json_is_what_json_dumps_writes(engine: Engine) -> None:
    with engine.connect() as conn:
        values = Values(conn)
        for value in CASES:
            got = values.json(value)
            if values.sqlite:
                assert got == _dumped(value), value
                assert json.loads(got) == value
            else:
                assert got.obj == value  # psycopg's Json wrapper: the driver encodes it


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), st.text() | st.integers() | st.none(), max_size=4))
def test_flat_attributes_encode_like_json_dumps(value: dict[str, Any]) -> None:
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        assert Values(conn).json(value) == _dumped(value)


def test_times_are_converted_once_and_never_confused(engine: Engine) -> None:
    now = datetime(2026, 12, 1, 6, 0, 0, 123456, tzinfo=UTC)
    other = datetime(2026, 12, 1, 7, 0, 0, tzinfo=timezone(timedelta(hours=1)))  # 06:00 UTC
    with engine.connect() as conn:
        values = Values(conn)
        for _ in range(2):  # the second round takes the cached answers
            for when, utc in ((now, now), (other, other.astimezone(UTC)), (now, now)):
                got = values.time(when)
                if values.sqlite:
                    assert got == utc.strftime("%Y-%m-%d %H:%M:%S.%f")
                else:
                    assert got == utc and got.utcoffset() == timedelta(0)
        assert values.time(None) is None


def test_insert_rows_writes_all_null_columns_as_null(engine: Engine) -> None:
    """A column that is None in every row goes into the statement as NULL; the others are
    bound as usual, each row's values in their columns."""
    names = ("address_hash", "reason", "source", "created_at")
    now = datetime(2024, 5, 1, tzinfo=UTC)
    with engine.begin() as conn:
        values = Values(conn)
        rows = [(f"h{i}", "manual", f"s{i}", values.time(now)) for i in range(3)]
        insert_rows(conn, suppressions, names, rows)
        # NULL where the schema allows it: the log's list, old status and IP.
        log = ("subscriber_id", "list_id", "action", "old_status", "new_status", "method",
               "detail", "ip", "at")  # fmt: skip
        mixed = [
            (None, None, "a", None, "x", "import", values.json({}), None, values.time(now)),
            (None, None, "b", "old", "y", "import", values.json({}), None, values.time(now)),
        ]
        insert_rows(conn, subscription_log, log, mixed)
        insert_rows(conn, subscription_log, log, mixed[:1])
        got = conn.execute(
            select(
                subscription_log.c.action,
                subscription_log.c.old_status,
                subscription_log.c.new_status,
                subscription_log.c.ip,
                subscription_log.c.at,
            ).order_by(subscription_log.c.id)
        ).all()
        assert [tuple(r) for r in got] == [
            ("a", None, "x", None, now),
            ("b", "old", "y", None, now),
            ("a", None, "x", None, now),
        ]
        stored = conn.execute(select(suppressions.c.address_hash, suppressions.c.source)).all()
        assert sorted(tuple(r) for r in stored) == [("h0", "s0"), ("h1", "s1"), ("h2", "s2")]
