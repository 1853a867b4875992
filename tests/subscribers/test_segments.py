"""Segments: the language, its errors, and the SQL it compiles to, checked against a plain
Python reading of the same condition on SQLite and PostgreSQL (hypothesis)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from pipeline.config import SegmentSection, Settings
from pipeline.errors import ConfigError
from pipeline.store.tables import (
    deliveries,
    delivery_events,
    editions,
    lists,
    subscriber_tags,
    subscribers,
    subscriptions,
)
from pipeline.subscribers.segments import (
    SegmentSyntaxError,
    check_segments,
    parse_condition,
    segment_where,
)
from pipeline.subscribers.segments.language import (
    And,
    Engaged,
    FieldIn,
    HasTag,
    Missed,
    Node,
    Not,
    OnList,
    Or,
    Subscribed,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LISTS = ("beauty-tips", "news")
TAGS = ("vip", "oily skin", "sample-box")
SKIN = ("oily", "dry", "combination", "")
COUNTRIES = ("FR", "DE", "GB")


# ---- a plain Python reading of a condition ---------------------------------------------
@dataclass
class Person:
    id: int
    created_at: datetime
    lists: set[str] = field(default_factory=set)  # confirmed on
    tags: set[str] = field(default_factory=set)
    attributes: dict[str, Any] = field(default_factory=dict)
    # (sent_at, [(event, occurred_at)]) per sent issue
    sent: list[tuple[datetime, list[tuple[str, datetime]]]] = field(default_factory=list)


def evaluate(node: Node, p: Person, now: datetime) -> bool:
    if isinstance(node, And):
        return all(evaluate(n, p, now) for n in node.parts)
    if isinstance(node, Or):
        return any(evaluate(n, p, now) for n in node.parts)
    if isinstance(node, Not):
        return not evaluate(node.inner, p, now)
    if isinstance(node, OnList):
        return node.slug in p.lists
    if isinstance(node, HasTag):
        return node.tag in p.tags
    if isinstance(node, FieldIn):
        value = p.attributes.get(node.field)
        return (value if isinstance(value, str) else "") in node.values
    if isinstance(node, Subscribed):
        start = datetime(node.day.year, node.day.month, node.day.day, tzinfo=UTC)
        if node.when == "before":
            return p.created_at < start
        return p.created_at >= start + timedelta(days=1)
    if isinstance(node, Engaged):
        kinds = {"open", "click"} if node.event == "opened" else {"click"}
        since = now - timedelta(days=node.days)
        return any(e in kinds and at >= since for _, evs in p.sent for e, at in evs)
    if isinstance(node, Missed):
        if len(p.sent) < node.issues:
            return False
        last = sorted(p.sent, key=lambda s: s[0], reverse=True)[: node.issues]
        return not any(e in ("open", "click") for _, evs in last for e, _ in evs)
    raise TypeError(node)


# ---- a population, stored ----------------------------------------------------------------
def population(seed: int = 16, size: int = 40) -> list[Person]:
    rng = random.Random(seed)
    people = []
    for i in range(1, size + 1):
        p = Person(i, NOW - timedelta(days=rng.randrange(0, 400), hours=rng.randrange(24)))
        p.lists = {s for s in LISTS if rng.random() < 0.6}
        p.tags = {t for t in TAGS if rng.random() < 0.35}
        skin = rng.choice((*SKIN, None, 3))  # missing, or a number: neither is text
        if skin is not None:
            p.attributes["skin_type"] = skin
        if rng.random() < 0.8:
            p.attributes["country"] = rng.choice(COUNTRIES)
        for k in range(rng.randrange(0, 5)):
            sent_at = NOW - timedelta(days=10 * k + rng.randrange(10))
            events = []
            for kind in ("open", "click"):
                if rng.random() < 0.3:
                    events.append((kind, sent_at + timedelta(hours=rng.randrange(1, 48))))
            p.sent.append((sent_at, events))
        people.append(p)
    return people


def store(engine: Engine, people: list[Person]) -> None:
    with engine.begin() as conn:
        list_ids = {}
        for slug in LISTS:
            list_ids[slug] = conn.execute(
                insert(lists).values(slug=slug, name=slug, created_at=NOW)
            ).inserted_primary_key[0]  # type: ignore[index]
        edition_ids = []
        for k in range(6):
            edition_ids.append(
                conn.execute(
                    insert(editions).values(
                        slug=f"e{k}",
                        status="sent",
                        subject="s",
                        content_hash="h",
                        lists=list(LISTS),
                        compiled=b"{}",
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
        for p in people:
            conn.execute(
                insert(subscribers).values(
                    id=p.id,
                    email=f"p{p.id}@example.org",
                    name="",
                    attributes=p.attributes,
                    status="active",
                    created_at=p.created_at,
                    updated_at=p.created_at,
                )
            )
            for slug in LISTS:
                status = "confirmed" if slug in p.lists else "unsubscribed"
                if slug in p.lists or p.id % 3 == 0:
                    conn.execute(
                        insert(subscriptions).values(
                            subscriber_id=p.id,
                            list_id=list_ids[slug],
                            status=status,
                            consent_method="import",
                        )
                    )
            for t in p.tags:
                conn.execute(insert(subscriber_tags).values(subscriber_id=p.id, tag=t))
            for k, (sent_at, events) in enumerate(p.sent):
                did = conn.execute(
                    insert(deliveries).values(
                        edition_id=edition_ids[k],
                        subscriber_id=p.id,
                        email="x",
                        status="sent",
                        sent_at=sent_at,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                for kind, at in events:
                    conn.execute(
                        insert(delivery_events).values(
                            delivery_id=did,
                            edition_id=edition_ids[k],
                            event=kind,
                            detail={},
                            occurred_at=at,
                        )
                    )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('subscribers', 'id'), 1000)")


def selected(engine: Engine, condition: str) -> set[int]:
    where = segment_where(condition, now=NOW, dialect=engine.dialect.name)
    with engine.connect() as conn:
        return set(conn.execute(select(subscribers.c.id).where(where)).scalars())


# ---- conditions as text ------------------------------------------------------------------
def q(s: str) -> str:
    return f'"{s}"'


tests_ = st.one_of(
    st.sampled_from((*LISTS, "nobody")).map(lambda s: f"list {q(s)}"),
    st.sampled_from((*TAGS, "VIP", "none")).map(lambda t: f"tag {q(t)}"),
    st.tuples(
        st.sampled_from(("skin_type", "country", "city")), st.sampled_from(SKIN + COUNTRIES)
    ).map(lambda a: f"{a[0]} = {q(a[1])}"),
    st.tuples(st.sampled_from(("skin_type", "country")), st.sampled_from(SKIN + COUNTRIES)).map(
        lambda a: f"{a[0]} != {q(a[1])}"
    ),
    st.tuples(
        st.sampled_from(("skin_type", "country")),
        st.lists(st.sampled_from(SKIN + COUNTRIES), min_size=1, max_size=3),
    ).map(lambda a: f"{a[0]} in ({', '.join(q(v) for v in a[1])})"),
    st.tuples(st.sampled_from(("before", "after")), st.integers(0, 420)).map(
        lambda a: f"subscribed {a[0]} {(NOW.date() - timedelta(days=a[1])).isoformat()}"
    ),
    st.tuples(st.sampled_from(("opened", "clicked")), st.integers(1, 60)).map(
        lambda a: f"{a[0]} within {a[1]} days"
    ),
    st.integers(1, 5).map(lambda n: f"missed last {n} issues"),
)
conditions = st.recursive(
    tests_,
    lambda inner: st.one_of(
        inner.map(lambda c: f"not {c}"),
        st.tuples(inner, inner).map(lambda a: f"({a[0]}) and ({a[1]})"),
        st.tuples(inner, inner).map(lambda a: f"({a[0]} or {a[1]})"),
    ),
    max_leaves=5,
)


def test_segments_select_what_the_condition_says(engine: Engine) -> None:
    """Hypothesis: for random conditions over a varied population, the SQL (on this
    database: SQLite and PostgreSQL both run this test) selects exactly the subscribers
    the Python reading of the condition selects."""
    people = population()
    store(engine, people)

    @hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(conditions)
    def check(condition: str) -> None:
        node = parse_condition(condition)
        expected = {p.id for p in people if evaluate(node, p, NOW)}
        assert selected(engine, condition) == expected, condition

    check()
    # The population is varied enough for the comparison to mean something.
    assert 0 < len(selected(engine, 'tag "vip"')) < len(people)
    assert 0 < len(selected(engine, "opened within 30 days")) < len(people)
    assert 0 < len(selected(engine, "missed last 2 issues")) < len(people)


def test_a_beauty_segment(engine: Engine) -> None:
    people = population()
    store(engine, people)
    condition = (
        'list "beauty-tips" and (tag "vip" or skin_type in ("oily", "combination")) '
        'and country != "DE" and not missed last 3 issues'
    )
    node = parse_condition(condition)
    want = {p.id for p in people if evaluate(node, p, NOW)}
    assert selected(engine, condition) == want and want


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("", "position 1: the condition is empty"),
        ("tag vip", "position 5: expected a quoted string after 'tag', found 'vip'"),
        (
            'tag "vip" and',
            'position 14: expected a test such as tag "vip", list "news" '
            'or skin_type = "oily", found the end of the condition',
        ),
        ('skin_type == "oily"', "position 12: expected a quoted string after '=', found '='"),
        ('skin_type = "oily', "position 13: a quoted string is not closed"),
        ("opened within 0 days", "position 15: 0 is out of range (1 to 36500)"),
        ("subscribed after 2026-02-30", "position 18: 2026-02-30 is not a date"),
        ('(tag "a"', "position 9: expected ')', found the end of the condition"),
        (
            'tag "a" tag "b"',
            "position 9: expected 'and', 'or' or the end of the condition, found 'tag'",
        ),
        ("country ; 1", "position 9: unexpected character ';'"),
    ],
)
def test_syntax_errors_say_where(condition: str, message: str) -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        parse_condition(condition)
    assert str(caught.value) == message


def test_a_bad_segment_names_the_setting_and_position(make_settings: Any) -> None:
    settings: Settings = make_settings()
    segment = SegmentSection(name="oily", condition="skin_type = oily")
    bad = settings.model_copy(update={"segments": [*settings.segments, segment]})
    with pytest.raises(ConfigError) as caught:
        check_segments(bad)
    assert str(caught.value) == (
        f"newsletter.toml: segments[{len(settings.segments)}].condition (segment 'oily'): "
        "position 13: expected a quoted string after '=', found 'oily' (see 'Segments' in "
        "docs/audience.md for the condition language)"
    )


def test_a_segment_naming_an_unknown_list_is_refused(make_settings: Any) -> None:
    settings: Settings = make_settings()
    segment = SegmentSection(name="x", condition='list "nope"')
    with pytest.raises(ConfigError, match="unknown list 'nope'"):
        check_segments(settings.model_copy(update={"segments": [segment]}))


def test_dates_and_days() -> None:
    assert parse_condition("subscribed before 2026-01-31") == Subscribed(
        "before", date(2026, 1, 31)
    )
    assert parse_condition("TAG" if False else 'tag " Oily Skin "') == HasTag("oily skin")
