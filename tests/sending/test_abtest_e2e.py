"""A 4-variant A/B subject test on 2,000 recipients, end to end: SMTP transport, an
injected clock, and human clicks made through the served app's tracking endpoint. One
subject gets more clicks in the sample; ``send-due`` picks it after the wait and sends it
to the rest; every recipient receives exactly one message."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.clock import FixedClock
from pipeline.scheduling.due import send_due
from pipeline.scheduling.plan import schedule_issue
from pipeline.sending.abtest import ab_state
from pipeline.sending.editions import get_edition
from pipeline.sending.ledger import count_by_status
from pipeline.store.tables import deliveries
from pipeline.subscribers.lists import sync_lists
from tests.conftest import TEST_SECRET
from tests.sending.abtest_helpers import (
    SLUG,
    SUBJECTS,
    keeping_smtp,
    served,
    smtp_settings,
    write_ab_issue,
)
from tests.sending.conftest import add_audience

RECIPIENTS = 2000
DUE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WINNER = 2  # variant C gets more human clicks
CLICK_SHARE = {0: 0.05, 1: 0.05, 2: 0.30, 3: 0.05}


def variant_rows(engine: Engine, edition_id: int) -> dict[tuple[int | None, bool], int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.variant, deliveries.c.in_sample, func.count())
            .where(deliveries.c.edition_id == edition_id)
            .group_by(deliveries.c.variant, deliveries.c.in_sample)
        ).all()
    return {(v, bool(s)): int(n) for v, s, n in rows}


def cli(project_dir: Path, db_url: str, *args: str) -> Any:
    env = {
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_CONFIG": str(project_dir / "newsletter.toml"),
        "NEWSLETTER_NOW": (DUE + timedelta(hours=3)).isoformat(),
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def test_four_subjects_the_most_clicked_goes_to_the_rest(
    project_dir: Path, make_settings: Any, db_url: str, engine: Engine, port: int
) -> None:
    write_ab_issue(project_dir, sample="40%", wait="2h")
    clock = FixedClock(DUE - timedelta(days=1))
    with keeping_smtp() as (smtp, handler):
        settings = smtp_settings(make_settings, db_url, smtp, f"http://127.0.0.1:{port}")
        sync_lists(engine, settings)
        add_audience(engine, RECIPIENTS)
        schedule_issue(settings, engine, SLUG, at="2026-12-01 09:00", clock=clock)
        edition = get_edition(engine, SLUG)
        assert edition.ab_test == {
            "sample": 0.4,
            "wait_seconds": 7200,
            "winner_by": "clicks",
            "variants": 4,
        }

        # 1. The sample: 40% of 2,000, 200 per subject; the rest is held back.
        clock.current = DUE
        first = send_due(settings, engine, clock=clock, worker="w1", workers=1)
        [outcome] = first.outcomes
        assert outcome.ok and outcome.sent == 800 and outcome.status == "sending"
        assert "waits for the A/B test's winner, chosen 2026-12-01 11:00 GMT" in outcome.message
        assert variant_rows(engine, edition.id) == {
            (0, True): 200,
            (1, True): 200,
            (2, True): 200,
            (3, True): 200,
            (None, False): 1200,
        }
        sample = list(handler.messages)
        assert len(sample) == 800
        by_subject = Counter(m.subject for m in sample)
        assert by_subject == dict.fromkeys(SUBJECTS, 200)
        # the preheader is the variant's own (B and D have one), or the issue's
        assert {m.preheader for m in sample if m.subject == SUBJECTS[1]} == {"Preheader 1"}
        assert {m.preheader for m in sample if m.subject == SUBJECTS[0]} == {
            "How collagen induction therapy works, who it suits, and how to prepare."
        }

        # A run before the wait is over sends nothing more.
        clock.advance(timedelta(minutes=10))
        again = send_due(settings, engine, clock=clock, worker="w1", workers=1)
        assert again.outcomes[0].sent == 0 and len(handler.messages) == 800

        # 2. People click, through the tracking endpoint of the served app.
        rng = random.Random(18)
        clickers: dict[int, int] = {}
        with served(settings, engine, clock, port) as site:
            for index, subject in enumerate(SUBJECTS):
                readers = [m for m in sample if m.subject == subject]
                chosen = rng.sample(readers, round(len(readers) * CLICK_SHARE[index]))
                assert all(m.link for m in chosen)
                assert set(site.click([m.link for m in chosen])) == {302}
                clickers[index] = len(chosen)
            # A scanner fetching every tracked link of some variant-A messages (HEAD
            # requests) is a machine and does not count.
            scanned = [m for m in sample if m.subject == SUBJECTS[0]][:40]
            import httpx

            with httpx.Client(timeout=30) as scanner:
                assert {scanner.head(m.link).status_code for m in scanned} == {302}
            assert site.flush() > 0
        assert clickers == {0: 10, 1: 10, 2: 60, 3: 10}

        state = ab_state(engine, get_edition(engine, SLUG))
        assert state is not None and state.phase == "waiting"
        assert [v.clicks for v in state.variants] == [10, 10, 60, 10]
        assert state.decide_at == DUE + timedelta(hours=2)

        # 3. After the wait, the winner is chosen and sent to the other 1,200.
        clock.current = DUE + timedelta(hours=2, minutes=1)
        last = send_due(settings, engine, clock=clock, worker="w2", workers=1)
        [outcome] = last.outcomes
        assert (outcome.action, outcome.sent, outcome.status) == ("sent", 1200, "sent")

    edition = get_edition(engine, SLUG)
    assert edition.ab_winner == WINNER
    decision = edition.ab_decision
    assert decision is not None
    assert (decision["winner"], decision["outcome"]) == ("C", "significant")
    assert decision["p_value"] < 0.05
    rest = handler.messages[800:]
    assert len(rest) == 1200 and {m.subject for m in rest} == {SUBJECTS[WINNER]}
    # Every recipient exactly one message.
    copies = Counter(m.rcpt for m in handler.messages)
    assert len(copies) == RECIPIENTS and set(copies.values()) == {1}
    assert count_by_status(engine, edition.id)["sent"] == RECIPIENTS
    assert variant_rows(engine, edition.id) == {
        (0, True): 200,
        (1, True): 200,
        (2, True): 200,
        (3, True): 200,
        (2, False): 1200,
    }

    # issue status and issue stats show the variants and the decision.
    status = json.loads(cli(project_dir, db_url, "issue", "status", SLUG, "--json").stdout)
    ab = status["ab_test"]
    assert (ab["phase"], ab["winner"]) == ("decided", "C")
    assert [v["clicks"] for v in ab["variants"]] == [10, 10, 60, 10]
    assert [v["rest_sent"] for v in ab["variants"]] == [0, 0, 1200, 0]
    assert ab["decision"]["outcome"] == "significant"
    stats = json.loads(cli(project_dir, db_url, "issue", "stats", SLUG, "--json").stdout)
    assert stats["ab_test"]["winner"] == "C" and stats["clicks"] == 90
    table = cli(project_dir, db_url, "issue", "status", SLUG).stdout
    assert "A/B subject test: decided" in table and "C (winner)" in table
    assert "Decision: C wins by clicks: C 30.0% (60/200) against A 5.0% (10/200)" in table
    print(f"\nA/B decision: {decision['reason']}")
