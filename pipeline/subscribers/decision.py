"""What one subscription change does: the rules, written once, without a database.

``decide_subscription(held, asked)`` takes what the database holds for one address and what
is asked for it, and returns a ``Decision``: whether the address is left alone because it is
suppressed, whether a liftable suppression is lifted first, whether a subscriber is created,
the name and attributes to store, and one step per list. ``add_subscriber`` (web signup,
preferences, the CLI) applies it row by row; the import (``batches.apply_batch``) applies
it to many addresses and batches the writes. tests/subscribers/test_decision.py proves that
both leave the same database state for the same inputs.

The rules:

- A suppressed address, or a subscriber whose status is not 'active', is left alone,
  unless ``resubscribe`` is asked (the person asked again) and the suppression reason is
  liftable ('unsubscribed', 'bounced'): then the suppression is lifted and the subscriber
  made active again first.
- A given name replaces the stored one; given attributes are merged into the stored ones;
  given tags are added to the stored ones (never removed).
- Per list: no subscription yet -> ``subscribe`` with the asked status; 'unconfirmed' and
  'confirmed' asked -> ``confirm``; 'unsubscribed' and ``resubscribe`` -> ``resubscribe``
  with the asked status; anything else stays as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

from pipeline.subscribers.suppression import LIFTABLE

# The values below are immutable named tuples rather than frozen dataclasses: an import
# makes an Asked and a Decision for every row, and a frozen dataclass costs about three
# times as much to make (bench/bench_import.py). The default mappings are read-only.
_NOTHING: Mapping[Any, Any] = MappingProxyType({})


class Held(NamedTuple):
    """What the database holds for one address (``None`` instead of this: nothing at all)."""

    status: str | None  # the subscriber's status; None when there is no subscriber row
    name: str = ""
    attributes: Mapping[str, Any] = _NOTHING
    subscriptions: Mapping[int, str] = _NOTHING  # list id -> status
    suppressed: str | None = None  # the suppression reason, when the address is suppressed
    tags: frozenset[str] = frozenset()


class Asked(NamedTuple):
    """The change asked for one address."""

    lists: Sequence[int]  # list ids, in order, without repeats
    status: str  # 'confirmed' | 'unconfirmed' (a restored export may say 'unsubscribed')
    name: str | None = None  # None or '': keep the stored name
    attributes: Mapping[str, Any] = _NOTHING
    resubscribe: bool = False  # the person asked again: lift a liftable suppression
    tags: Sequence[str] = ()  # normalised tags to add


class Step(NamedTuple):
    """One subscription row to write, and the log row that goes with it."""

    list_id: int
    action: str  # subscribe | confirm | resubscribe
    old: str | None
    new: str


class Decision(NamedTuple):
    suppressed: bool  # True: nothing else happens
    lift: bool = False  # lift the suppression and make the subscriber active first
    create: bool = False  # there is no subscriber row yet
    name: str | None = None  # the name to store, None: unchanged
    attributes: dict[str, Any] | None = None  # the attributes to store, None: unchanged
    steps: tuple[Step, ...] = ()
    tags: tuple[str, ...] = ()  # tags to add

    @property
    def changed(self) -> bool:
        """Whether an existing subscriber is changed (a new one always is)."""
        return bool(self.lift or self.name is not None or self.attributes is not None) or bool(
            self.steps or self.tags
        )


LEFT_ALONE = Decision(suppressed=True)


def decide_subscription(held: Held | None, asked: Asked) -> Decision:
    """What subscribing one address as ``asked`` does, given what is ``held`` for it."""
    status = held.status if held is not None else None
    reason = held.suppressed if held is not None else None
    blocked = reason is not None or (status is not None and status != "active")
    lift = False
    if blocked:
        if not asked.resubscribe or (reason is not None and reason not in LIFTABLE):
            return LEFT_ALONE
        lift = True
    if held is None or status is None:
        return Decision(  # (positional: for every new row of an import)
            False,  # suppressed
            lift,
            True,  # create
            asked.name or "",
            dict(asked.attributes),
            _first_steps(tuple(asked.lists), asked.status),
            tuple(dict.fromkeys(asked.tags)) if asked.tags else (),
        )
    name = asked.name if asked.name and asked.name != held.name else None
    attributes = None
    if asked.attributes:
        merged = {**held.attributes, **asked.attributes}
        if merged != dict(held.attributes):
            attributes = merged
    steps = list_steps(held.subscriptions, asked.lists, asked.status, asked.resubscribe)
    tags = tuple(t for t in dict.fromkeys(asked.tags) if t not in held.tags)
    return Decision(
        suppressed=False,
        lift=lift,
        name=name,
        attributes=attributes,
        steps=steps,
        tags=tags,
    )


def list_steps(
    held: Mapping[int, str], lists: Sequence[int], status: str, resubscribe: bool
) -> tuple[Step, ...]:
    """The subscription rows to write for ``lists``, given the subscriptions ``held``
    (list id -> status): the per-list rule of ``decide_subscription``, also used by the
    preferences page (``set_lists``)."""
    steps = []
    for list_id in lists:
        old = held.get(list_id)
        if old is None:
            steps.append(Step(list_id, "subscribe", None, status))
        elif old == "unconfirmed" and status == "confirmed":
            steps.append(Step(list_id, "confirm", old, "confirmed"))
        elif old == "unsubscribed" and resubscribe:
            steps.append(Step(list_id, "resubscribe", old, status))
    return tuple(steps)


@lru_cache(maxsize=256)
def _first_steps(lists: tuple[int, ...], status: str) -> tuple[Step, ...]:
    """``list_steps`` for an address with no subscriptions (the same few values on every
    row of an import; the steps are immutable, so they are shared)."""
    return list_steps(_NOTHING, lists, status, False)
