"""Tags and custom fields (attributes) of subscribers.

Tags are short lower-case labels kept in ``subscriber_tags`` (one row per subscriber and
tag), so a segment's ``tag "vip"`` is an indexed ``EXISTS``. Custom fields live in
``subscribers.attributes`` (a JSON object of text values) under lower-case names such as
``skin_type``: imports, the signup form and the CLI all store them through ``field_key``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, text

from pipeline.config import Settings
from pipeline.errors import SubscriberError
from pipeline.store.tables import subscriber_tags, subscribers, utcnow
from pipeline.subscribers.history import insert_ignoring_conflicts, log_row, write_log
from pipeline.subscribers.tagnames import split_tags


def add_tags_in(conn: Connection, tags_by_id: Mapping[int, Sequence[str]]) -> None:
    """Give subscribers tags (inside an open transaction); existing tags stay."""
    rows = [{"subscriber_id": sid, "tag": t} for sid, tags in tags_by_id.items() for t in tags]
    if rows:
        insert_ignoring_conflicts(conn, subscriber_tags, rows)


def _subscriber_id(conn: Connection, email: str) -> int:
    # Here, not at the top: sending reads known_fields and needs no address validation
    # (email_validator and idna: 25 ms of start-up).
    from pipeline.subscribers.normalise import normalise_email

    normalised = normalise_email(email)
    found = conn.execute(
        select(subscribers.c.id).where(subscribers.c.email == normalised)
    ).scalar_one_or_none()
    if found is None:
        raise SubscriberError(
            f"no subscriber {normalised}", fix="add them first: 'newsletter subscribers add'"
        )
    return int(found)


def tag_subscriber(
    engine: Engine, email: str, tags: Sequence[str], *, method: str = "cli"
) -> list[str]:
    """Add ``tags`` to the subscriber with this address; returns the tags that were new."""
    wanted = split_tags(tags)
    with engine.begin() as conn:
        sid = _subscriber_id(conn, email)
        have = set(tags_in(conn, [sid]).get(sid, []))
        new = [t for t in wanted if t not in have]
        add_tags_in(conn, {sid: new})
        if new:
            write_log(
                conn,
                [
                    log_row(
                        sid,
                        None,
                        "tag",
                        None,
                        None,
                        method=method,
                        at=utcnow(),
                        detail={"added": new},
                    )
                ],
            )
    return new


def untag_subscriber(
    engine: Engine, email: str, tags: Sequence[str], *, method: str = "cli"
) -> list[str]:
    """Remove ``tags``; returns those the subscriber had."""
    wanted = split_tags(tags)
    with engine.begin() as conn:
        sid = _subscriber_id(conn, email)
        have = set(tags_in(conn, [sid]).get(sid, []))
        gone = [t for t in wanted if t in have]
        if gone:
            conn.execute(
                delete(subscriber_tags).where(
                    subscriber_tags.c.subscriber_id == sid, subscriber_tags.c.tag.in_(gone)
                )
            )
            write_log(
                conn,
                [
                    log_row(
                        sid,
                        None,
                        "untag",
                        None,
                        None,
                        method=method,
                        at=utcnow(),
                        detail={"removed": gone},
                    )
                ],
            )
    return gone


def tags_in(conn: Connection, ids: Iterable[int]) -> dict[int, list[str]]:
    """subscriber id -> sorted tags, for ``ids``."""
    wanted = list(ids)
    out: dict[int, list[str]] = {}
    if not wanted:
        return out
    rows = conn.execute(
        select(subscriber_tags.c.subscriber_id, subscriber_tags.c.tag)
        .where(subscriber_tags.c.subscriber_id.in_(wanted))
        .order_by(subscriber_tags.c.subscriber_id, subscriber_tags.c.tag)
    ).all()
    for sid, tag in rows:
        out.setdefault(sid, []).append(tag)
    return out


def tags_of(engine: Engine, subscriber_id: int) -> list[str]:
    with engine.connect() as conn:
        return tags_in(conn, [subscriber_id]).get(subscriber_id, [])


def tag_counts(engine: Engine) -> list[tuple[str, int]]:
    """(tag, subscribers) for every tag, most used first."""
    from sqlalchemy import func

    query = (
        select(subscriber_tags.c.tag, func.count())
        .group_by(subscriber_tags.c.tag)
        .order_by(func.count().desc(), subscriber_tags.c.tag)
    )
    with engine.connect() as conn:
        return [(t, int(n)) for t, n in conn.execute(query).all()]


# ---- custom fields ------------------------------------------------------------------------
def has_field(engine: Engine, name: str) -> bool:
    """Whether some subscriber has the custom field ``name`` (as text). The lookup stops at
    the first one: a field most subscribers have is found at once, whatever the audience's
    size (only a field nobody has reads every row)."""
    if engine.dialect.name == "sqlite":
        sql = (
            "SELECT 1 FROM subscribers, json_each(subscribers.attributes) AS j "
            "WHERE j.key = :name AND j.type = 'text' LIMIT 1"
        )
    else:
        sql = (
            "SELECT 1 FROM subscribers "
            "WHERE json_typeof(subscribers.attributes::json -> :name) = 'string' LIMIT 1"
        )
    with engine.connect() as conn:
        return conn.execute(text(sql), {"name": name}).first() is not None


class KnownFields:
    """The custom fields a template may use: declared in newsletter.toml
    (``audience.fields``, ``audience.signup_fields``) or held by at least one subscriber.
    Looked up as they are asked for (``name in known``), each at most once: checking an
    issue that uses no custom field reads no subscriber."""

    def __init__(self, declared: Iterable[str], engine: Engine | None) -> None:
        self.engine = engine
        self.found = dict.fromkeys(declared, True)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name not in self.found:
            self.found[name] = self.engine is not None and has_field(self.engine, name)
        return self.found[name]


def known_fields(settings: Settings, engine: Engine | None) -> KnownFields:
    """The custom fields a template may use (``KnownFields``)."""
    declared = [*settings.audience.fields, *(f.name for f in settings.audience.signup_fields)]
    return KnownFields(declared, engine)


def text_attributes(attributes: Mapping[str, Any] | None) -> dict[str, str]:
    """The custom fields of one subscriber usable in an email (text values only)."""
    return {k: v for k, v in (attributes or {}).items() if isinstance(v, str)}


def signup_fields(
    settings: Settings, given: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The custom fields a signup stores, from the form's ``given`` values: configured
    visible fields (a choice must be one of ``choices``; text is trimmed to 200
    characters), and hidden fields with their configured value. Returns (fields, errors
    by field name); anything not configured is ignored."""
    stored: dict[str, str] = {}
    errors: dict[str, str] = {}
    for spec in settings.audience.signup_fields:
        if spec.hidden:
            if spec.value:
                stored[spec.name] = spec.value
            continue
        value = " ".join(str(given.get(spec.name, "")).split())[:200]
        if not value:
            continue
        if spec.choices and value not in spec.choices:
            errors[spec.name] = f"Please choose one of: {', '.join(spec.choices)}."
            continue
        stored[spec.name] = value
    return stored, errors
