"""One rule for a subscription change: ``decide_subscription`` alone, and a property test that
``add_subscriber`` (one address at a time) and the import (batched writes) leave the same
database state for the same inputs, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from pipeline.config import Settings
from pipeline.store.tables import (
    lists,
    subscriber_tags,
    subscribers,
    subscription_log,
    subscriptions,
    suppressions,
)
from pipeline.subscribers.decision import (
    LEFT_ALONE,
    Asked,
    Decision,
    Held,
    Step,
    decide_subscription,
)
from pipeline.subscribers.importing import import_subscribers
from pipeline.subscribers.service import add_subscriber, suppress, sync_lists

# ---- the rule alone -------------------------------------------------------------------------


def test_a_new_address_is_created_with_every_list() -> None:
    decision = decide_subscription(None, Asked(lists=[1, 2], status="unconfirmed", name="Ann"))
    assert decision == Decision(
        suppressed=False,
        create=True,
        name="Ann",
        attributes={},
        steps=(
            Step(1, "subscribe", None, "unconfirmed"),
            Step(2, "subscribe", None, "unconfirmed"),
        ),
    )


def test_an_existing_subscriber_is_confirmed_merged_and_not_reopened() -> None:
    held = Held(
        "active",
        name="Ann",
        attributes={"city": "Oslo", "plan": "free"},
        subscriptions={1: "unconfirmed", 2: "unsubscribed", 3: "confirmed"},
    )
    asked = Asked(lists=[1, 2, 3, 4], status="confirmed", name="", attributes={"city": "Rome"})
    assert decide_subscription(held, asked) == Decision(
        suppressed=False,
        name=None,
        attributes={"city": "Rome", "plan": "free"},
        steps=(
            Step(1, "confirm", "unconfirmed", "confirmed"),
            Step(4, "subscribe", None, "confirmed"),
        ),
    )
    reopened = decide_subscription(held, Asked(lists=[2], status="confirmed", resubscribe=True))
    assert reopened.steps == (Step(2, "resubscribe", "unsubscribed", "confirmed"),)


def test_nothing_asked_that_is_already_there_changes_nothing() -> None:
    held = Held("active", name="Ann", attributes={"city": "Oslo"}, subscriptions={1: "confirmed"})
    decision = decide_subscription(
        held, Asked(lists=[1], status="unconfirmed", name="Ann", attributes={"city": "Oslo"})
    )
    assert decision == Decision(suppressed=False) and not decision.changed


def test_tags_are_added_never_removed() -> None:
    held = Held("active", subscriptions={1: "confirmed"}, tags=frozenset({"vip"}))
    decision = decide_subscription(
        held, Asked(lists=[1], status="confirmed", tags=("vip", "oily skin", "oily skin"))
    )
    assert decision.tags == ("oily skin",) and decision.changed
    again = decide_subscription(held, Asked(lists=[1], status="confirmed", tags=("vip",)))
    assert again.tags == () and not again.changed
    new = decide_subscription(None, Asked(lists=[1], status="confirmed", tags=("vip",)))
    assert new.tags == ("vip",)


def test_suppressed_addresses_are_left_alone_unless_the_person_asks_again() -> None:
    asked = Asked(lists=[1], status="confirmed")
    again = Asked(lists=[1], status="confirmed", resubscribe=True)
    for reason in ("unsubscribed", "bounced", "complained", "erased", "manual"):
        assert decide_subscription(Held(None, suppressed=reason), asked) is LEFT_ALONE
    assert decide_subscription(Held("bounced", suppressed="bounced"), again).lift
    assert decide_subscription(Held(None, suppressed="unsubscribed"), again).create
    for reason in ("complained", "erased", "manual"):
        assert decide_subscription(Held("complained", suppressed=reason), again) is LEFT_ALONE
    # A subscriber who is not active (no suppression row left) needs asking again too.
    assert decide_subscription(Held("unsubscribed"), asked) is LEFT_ALONE
    lifted = decide_subscription(Held("unsubscribed", subscriptions={1: "unsubscribed"}), again)
    assert lifted.lift and lifted.steps == (Step(1, "resubscribe", "unsubscribed", "confirmed"),)


# ---- add versus import ----------------------------------------------------------------------

POOL = ["ann@example.com", "bo@example.com", "cy@example.com", "di@example.com"]
LISTS = ["beauty-tips", "news"]

row_strategy = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["", "Ann", "Bo Lee"]),
        "lists": st.lists(st.sampled_from(LISTS), min_size=1, max_size=2, unique=True),
        "confirmed": st.booleans(),
        "city": st.sampled_from(["", "Oslo", "Rome"]),
        "tags": st.lists(st.sampled_from(["vip", "oily skin"]), max_size=2, unique=True),
    }
)
# One step is what one import file holds: each address at most once.
step_strategy = st.dictionaries(st.sampled_from(POOL), row_strategy, min_size=1, max_size=4)
suppressed_strategy = st.dictionaries(
    st.sampled_from(POOL), st.sampled_from(["unsubscribed", "bounced", "complained"]), max_size=2
)


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (subscription_log, subscriptions, suppressions, subscriber_tags, subscribers):
            conn.execute(delete(table))


def _state(engine: Engine) -> dict[str, Any]:
    """Everything a subscription change decides, without ids, times and how it came."""
    with engine.connect() as conn:
        slugs = dict(conn.execute(select(lists.c.id, lists.c.slug)).all())
        emails = dict(conn.execute(select(subscribers.c.id, subscribers.c.email)).all())
        people = {
            r.email: (r.name, r.status, r.attributes) for r in conn.execute(select(subscribers))
        }
        subs = sorted(
            (emails[r.subscriber_id], slugs[r.list_id], r.status, r.confirmed_at is not None)
            for r in conn.execute(select(subscriptions))
        )
        supp = sorted(conn.execute(select(suppressions.c.address_hash, suppressions.c.reason)))
        log = [
            (
                emails.get(r.subscriber_id),
                slugs.get(r.list_id),
                r.action,
                r.old_status,
                r.new_status,
            )
            for r in conn.execute(select(subscription_log).order_by(subscription_log.c.id))
        ]
        tags = sorted(
            (emails[r.subscriber_id], r.tag) for r in conn.execute(select(subscriber_tags))
        )
    return {"people": people, "subscriptions": subs, "suppressions": supp, "log": log, "tags": tags}


def _by_add(engine: Engine, steps: list[dict[str, dict[str, Any]]]) -> None:
    for step in steps:
        for email, row in step.items():
            add_subscriber(
                engine,
                email,
                name=row["name"],
                lists=row["lists"],
                method="cli",
                confirmed=row["confirmed"],
                attributes={"city": row["city"]} if row["city"] else None,
                tags=row["tags"],
            )


def _by_import(engine: Engine, steps: list[dict[str, dict[str, Any]]], folder: Path) -> None:
    for number, step in enumerate(steps):
        path = folder / f"step{number}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "name", "lists", "status", "city", "tags"])
            for email, row in step.items():
                status = "confirmed" if row["confirmed"] else "unconfirmed"
                writer.writerow(
                    [
                        email,
                        row["name"],
                        ";".join(row["lists"]),
                        status,
                        row["city"],
                        ", ".join(row["tags"]),
                    ]
                )
        report = import_subscribers(engine, path, format="plain", batch_size=3)
        assert report.rejected == 0


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step_strategy, min_size=1, max_size=3), suppressed=suppressed_strategy)
def test_add_and_import_leave_the_same_state(
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    steps: list[dict[str, dict[str, Any]]],
    suppressed: dict[str, str],
) -> None:
    sync_lists(engine, settings)
    states = []
    ways: tuple[Callable[[], None], ...] = (
        lambda: _by_add(engine, steps),
        lambda: _by_import(engine, steps, tmp_path),
    )
    for apply in ways:
        _reset(engine)
        for email, reason in suppressed.items():
            suppress(engine, email, reason, source="test")
        apply()
        states.append(_state(engine))
    added, imported = states
    assert imported == added
