"""A/B subject tests: the sample, the wait, the winner, and the rest of the audience.

An edition frozen from an issue with ``subject_variants:`` holds one compiled email per
subject (``edition_variants``) and its ``ab_test`` settings. When the snapshot is taken a
random sample of the audience (``sample``, a share) is split evenly among the variants:
each of those ledger rows records its variant (``deliveries.variant``, ``in_sample``) in
the snapshot's transaction, so a crash, a resumed run or a second sender always sends a
row the same subject. The other rows have no variant and are not claimed.

Once the sample is sent, and ``wait`` has passed since its last message, the next run
(``send-due``, ``issue resume``) chooses the winner (``decide``) and gives it to every
row without a variant in one statement; those rows are then sent like any others.

The rule (``judge``), on the sample only, by human unique clicks (or opens) per message
delivered (per message sent when the transport reports no deliveries), as
``issue stats`` counts them (``pipeline.tracking``: machine opens and clicks excluded):

1. every variant had at least ``MIN_MESSAGES`` messages, and the best variant at least
   ``MIN_EVENTS`` clicks (or opens); otherwise the sample is **too small**;
2. a two-sided two-proportion z-test between the best and the runner-up gives
   p < ``ALPHA``; otherwise the result is **too close** to call.

When the result cannot be called the first variant (A) is sent, and the decision says
why. The editor may choose instead (``issue ab-winner SLUG VARIANT``) at any time after
the sample has started and before the winner is chosen; that also ends the wait.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, distinct, func, select, update

from pipeline.errors import SendError
from pipeline.sending.editions import Edition, edition_variants_of, find_edition
from pipeline.store.tables import deliveries, delivery_events, editions

MIN_MESSAGES = 50
MIN_EVENTS = 10
ALPHA = 0.05
LETTERS = "ABCD"

ev = delivery_events.c
HUMAN = func.coalesce(ev.verdict, "human") == "human"


def letter(index: int) -> str:
    return LETTERS[index] if 0 <= index < len(LETTERS) else str(index + 1)


def parse_variant(text: str, count: int) -> int:
    """``B``, ``b`` or ``2`` -> 1; SendError naming the variants otherwise."""
    value = text.strip().upper()
    index = LETTERS.find(value) if len(value) == 1 and value.isalpha() else -1
    if value.isdigit():
        index = int(value) - 1
    if not 0 <= index < count:
        names = ", ".join(letter(i) for i in range(count))
        raise SendError(
            f"there is no variant {text!r}",
            fix=f"name one of {names} (or its number, 1 to {count})",
        )
    return index


@dataclass(frozen=True)
class VariantFigures:
    """One variant of the sample (``sample_*``) and, once chosen, the rest it went to."""

    variant: str  # A, B, C, D
    subject: str
    preheader: str
    sample: int  # rows of the sample given this variant
    sent: int  # sample messages sent
    delivered: int  # sample messages with a ``delivered`` event
    opens: int  # sample deliveries with a human open or click
    clicks: int  # sample deliveries with a human click
    base: int  # what the rates are shares of: delivered, or sent without delivery events
    rest_sent: int = 0  # messages of the rest of the audience with this subject

    def count(self, by: str) -> int:
        return self.clicks if by == "clicks" else self.opens

    def rate(self, by: str) -> float:
        count = self.clicks if by == "clicks" else self.opens
        return count / self.base if self.base else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["click_rate"] = round(self.rate("clicks"), 4)
        out["open_rate"] = round(self.rate("opens"), 4)
        return out


@dataclass(frozen=True)
class Judgement:
    """What the rule says about the sample."""

    winner: int
    outcome: str  # significant | too-small | too-close | editor
    reason: str
    z: float | None = None
    p_value: float | None = None


@dataclass
class ABState:
    """An edition's A/B test as ``issue status`` and ``issue stats`` show it."""

    slug: str
    phase: str  # not started | sample | waiting | decided
    sample_share: float
    wait_seconds: int
    winner_by: str
    variants: list[VariantFigures] = field(default_factory=list)
    sample_done_at: datetime | None = None
    decide_at: datetime | None = None  # when the winner is chosen, once the sample is sent
    winner: str | None = None
    decision: dict[str, Any] | None = None
    rule: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "phase": self.phase,
            "sample": self.sample_share,
            "wait_seconds": self.wait_seconds,
            "winner_by": self.winner_by,
            "variants": [v.as_dict() for v in self.variants],
            "sample_done_at": self.sample_done_at.isoformat() if self.sample_done_at else None,
            "decide_at": self.decide_at.isoformat() if self.decide_at else None,
            "winner": self.winner,
            "decision": self.decision,
            "rule": self.rule,
        }


RULE = (
    f"at least {MIN_MESSAGES} messages per variant and {MIN_EVENTS} {{by}} for the best, "
    f"then a two-proportion z-test between the best and the runner-up at p < {ALPHA}"
)


def p_value(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p) of the pooled two-proportion z-test of x1/n1 against x2/n2."""
    if not n1 or not n2:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def judge(figures: list[VariantFigures], by: str) -> Judgement:
    """The winner by the rule in the module doc (variant A when it cannot be called)."""
    ranked = sorted(range(len(figures)), key=lambda i: (-figures[i].rate(by), i))
    best, second = ranked[0], ranked[1]
    b, r = figures[best], figures[second]

    def count(f: VariantFigures) -> int:
        return f.clicks if by == "clicks" else f.opens

    small = [f.variant for f in figures if f.base < MIN_MESSAGES]
    if small:
        return Judgement(
            0,
            "too-small",
            f"too small to call: variant(s) {', '.join(small)} had fewer than {MIN_MESSAGES} "
            f"messages; sending variant A",
        )
    if count(b) < MIN_EVENTS:
        return Judgement(
            0,
            "too-small",
            f"too small to call: the best variant, {b.variant}, had {count(b)} {by} (fewer "
            f"than {MIN_EVENTS}); sending variant A",
        )
    z, p = p_value(count(b), b.base, count(r), r.base)
    figures_text = (
        f"{b.variant} {b.rate(by):.1%} ({count(b)}/{b.base}) against {r.variant} "
        f"{r.rate(by):.1%} ({count(r)}/{r.base}): z = {z:.2f}, p = {p:.4f}"
    )
    if p >= ALPHA:
        return Judgement(
            0,
            "too-close",
            f"too close to call: {figures_text} (p >= {ALPHA}); sending variant A",
            z,
            p,
        )
    return Judgement(best, "significant", f"{b.variant} wins by {by}: {figures_text}", z, p)


def figures(engine: Engine, edition: Edition) -> list[VariantFigures]:
    """Each variant's sample figures (and the rest sent with it), as in the module doc."""
    variants = edition_variants_of(engine, edition.id)
    d = deliveries.c
    with engine.connect() as conn:

        def by_variant(query: Any) -> dict[int, int]:
            return {int(v): int(n) for v, n in conn.execute(query) if v is not None}

        mine = (d.edition_id == edition.id, d.in_sample.is_(True))
        sample = by_variant(select(d.variant, func.count()).where(*mine).group_by(d.variant))
        sent = by_variant(
            select(d.variant, func.count()).where(*mine, d.status == "sent").group_by(d.variant)
        )
        rest = by_variant(
            select(d.variant, func.count())
            .where(d.edition_id == edition.id, d.in_sample.is_(False), d.status == "sent")
            .group_by(d.variant)
        )

        def events(*condition: Any) -> dict[int, int]:
            return by_variant(
                select(d.variant, func.count(distinct(d.id)))
                .select_from(deliveries.join(delivery_events, ev.delivery_id == d.id))
                .where(*mine, *condition)
                .group_by(d.variant)
            )

        delivered = events(ev.event == "delivered")
        opens = events(ev.event.in_(["open", "click"]), HUMAN)
        clicks = events(ev.event == "click", HUMAN)
    use_delivered = sum(delivered.values()) > 0
    return [
        VariantFigures(
            variant=letter(v.index),
            subject=v.subject,
            preheader=v.preheader,
            sample=sample.get(v.index, 0),
            sent=sent.get(v.index, 0),
            delivered=delivered.get(v.index, 0),
            opens=opens.get(v.index, 0),
            clicks=clicks.get(v.index, 0),
            base=delivered.get(v.index, 0) if use_delivered else sent.get(v.index, 0),
            rest_sent=rest.get(v.index, 0),
        )
        for v in variants
    ]


def _sample_progress(engine: Engine, edition_id: int) -> tuple[int, int, datetime | None]:
    """(sample rows, sample rows still pending or in flight, when the last one ended)."""
    d = deliveries.c
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.count(),
                func.count().filter(d.status.in_(["pending", "in_flight"])),
                func.max(d.updated_at),
            ).where(d.edition_id == edition_id, d.in_sample.is_(True))
        ).one()
    return int(row[0]), int(row[1]), row[2]


def ab_state(engine: Engine, edition: Edition) -> ABState | None:
    """The edition's A/B test, or None when it is not one."""
    if not edition.ab_test:
        return None
    cfg = edition.ab_test
    wait = int(cfg["wait_seconds"])
    state = ABState(
        edition.slug,
        "not started",
        float(cfg["sample"]),
        wait,
        str(cfg["winner_by"]),
        figures(engine, edition),
        rule=RULE.format(by=cfg["winner_by"]),
    )
    total, open_rows, last = _sample_progress(engine, edition.id)
    if edition.ab_winner is not None:
        state.phase, state.winner = "decided", letter(edition.ab_winner)
        state.decision = edition.ab_decision
    elif total and open_rows:
        state.phase = "sample"
    elif total:
        state.phase = "waiting"
    if total and not open_rows and last is not None:
        state.sample_done_at = last
        state.decide_at = last + timedelta(seconds=wait)
    return state


def _apply(engine: Engine, edition: Edition, winner: int, decision: dict[str, Any]) -> bool:
    """Record the winner and give it to every row without a variant, in one transaction;
    False when another run (or the editor) chose first."""
    with engine.begin() as conn:
        won = conn.execute(
            update(editions)
            .where(editions.c.id == edition.id, editions.c.ab_winner.is_(None))
            .values(ab_winner=winner, ab_decision=decision)
        ).rowcount
        if won != 1:
            return False
        conn.execute(
            update(deliveries)
            .where(deliveries.c.edition_id == edition.id, deliveries.c.variant.is_(None))
            .values(variant=winner)
        )
    return True


def decide_if_due(engine: Engine, edition: Edition, now: datetime) -> Judgement | None:
    """Choose the winner when the sample is sent and the wait is over (see the module
    doc); None when it is not time yet, or it was chosen already."""
    if not edition.ab_test or edition.ab_winner is not None:
        return None
    total, open_rows, last = _sample_progress(engine, edition.id)
    if not total or open_rows or last is None:
        return None
    if now < last + timedelta(seconds=int(edition.ab_test["wait_seconds"])):
        return None
    by = str(edition.ab_test["winner_by"])
    found = figures(engine, edition)
    verdict = judge(found, by)
    decision = {
        "winner": letter(verdict.winner),
        "outcome": verdict.outcome,
        "reason": verdict.reason,
        "z": verdict.z,
        "p_value": verdict.p_value,
        "by": "send-due",
        "decided_at": now.isoformat(),
        "winner_by": by,
        "rule": RULE.format(by=by),
        "sample": [f.as_dict() for f in found],
    }
    return verdict if _apply(engine, edition, verdict.winner, decision) else None


def choose_winner(engine: Engine, slug: str, variant: str, *, by: str, now: datetime) -> str:
    """The editor's choice (``issue ab-winner``): the rest of the audience receives
    ``variant`` (without waiting any longer). Returns the variant's letter."""
    edition = find_edition(engine, slug)
    if edition is None or not edition.ab_test:
        raise SendError(
            f"{slug} is not an A/B subject test" if edition else f"no edition {slug!r}",
            fix="an A/B test is an issue with 'subject_variants:' that has been sent or "
            "scheduled; see 'newsletter issue status SLUG'",
        )
    if edition.ab_winner is not None:
        decided = (edition.ab_decision or {}).get("reason", "")
        raise SendError(
            f"the winner of {slug} was already chosen: {letter(edition.ab_winner)}"
            + (f" ({decided})" if decided else ""),
            fix="the rest of the audience is being (or has been) sent that subject",
        )
    total, _, _ = _sample_progress(engine, edition.id)
    if not total:
        raise SendError(
            f"the test of {slug} has not started: there is no sample yet",
            fix="choose once the sample is being sent ('newsletter issue status "
            f"{slug}' shows it); to send one subject to everyone, keep only that subject",
        )
    index = parse_variant(variant, len(edition_variants_of(engine, edition.id)))
    found = figures(engine, edition)
    decision = {
        "winner": letter(index),
        "outcome": "editor",
        "reason": f"chosen by the editor ({by}): variant {letter(index)}",
        "z": None,
        "p_value": None,
        "by": by,
        "decided_at": now.isoformat(),
        "winner_by": edition.ab_test["winner_by"],
        "rule": RULE.format(by=edition.ab_test["winner_by"]),
        "sample": [f.as_dict() for f in found],
    }
    if not _apply(engine, edition, index, decision):
        raise SendError(
            f"the winner of {slug} was chosen a moment ago by another run",
            fix=f"see 'newsletter issue status {slug}'",
        )
    return letter(index)
