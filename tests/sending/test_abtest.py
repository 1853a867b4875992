"""The A/B test's parts: the front matter, the sample sizes, the decision rule, and the
editor's choice (`issue ab-winner`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.clock import FixedClock
from pipeline.content.issues import load_issue
from pipeline.content.variants import ABTest, parse_duration
from pipeline.errors import ContentError, SendError
from pipeline.sending.abtest import VariantFigures, choose_winner, judge, p_value, parse_variant
from pipeline.sending.editions import freeze_edition, get_edition
from pipeline.sending.engine import send_edition
from pipeline.sending.ledger import sample_sizes
from pipeline.subscribers.lists import sync_lists
from tests.conftest import TEST_SECRET
from tests.sending.abtest_helpers import SLUG, SUBJECTS, write_ab_issue
from tests.sending.conftest import add_audience
from tests.sending.test_abtest_e2e import variant_rows


def fig(name: str, base: int, clicks: int, opens: int = 0) -> VariantFigures:
    return VariantFigures(name, name, "", base, base, 0, opens, clicks, base)


def test_a_clear_winner_is_significant() -> None:
    verdict = judge([fig("A", 200, 10), fig("B", 200, 12), fig("C", 200, 40)], "clicks")
    assert (verdict.winner, verdict.outcome) == (2, "significant")
    assert verdict.p_value is not None and verdict.p_value < 0.05
    assert verdict.reason.startswith("C wins by clicks: C 20.0% (40/200) against B 6.0%")


def test_too_close_sends_variant_a() -> None:
    verdict = judge([fig("A", 200, 20), fig("B", 200, 26)], "clicks")
    assert (verdict.winner, verdict.outcome) == (0, "too-close")
    assert "too close to call" in verdict.reason and "sending variant A" in verdict.reason


def test_too_few_messages_or_clicks_sends_variant_a() -> None:
    few = judge([fig("A", 40, 10), fig("B", 40, 30)], "clicks")
    assert (few.winner, few.outcome) == (0, "too-small")
    assert "fewer than 50 messages" in few.reason
    quiet = judge([fig("A", 500, 0), fig("B", 500, 9)], "clicks")
    assert (quiet.winner, quiet.outcome) == (0, "too-small")
    assert "B, had 9 clicks (fewer than 10)" in quiet.reason


def test_winner_by_opens() -> None:
    verdict = judge([fig("A", 300, 1, opens=60), fig("B", 300, 0, opens=110)], "opens")
    assert (verdict.winner, verdict.outcome) == (1, "significant")


def test_the_z_test() -> None:
    z, p = p_value(60, 200, 10, 200)
    assert round(z, 2) == 6.58 and p < 1e-9
    assert p_value(10, 100, 10, 100) == (0.0, 1.0)
    assert p_value(0, 0, 0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("total", "variants", "share", "sizes"),
    [
        (2000, 4, 0.4, [200, 200, 200, 200]),
        (1001, 3, 0.2, [67, 67, 66]),
        (5, 4, 0.1, [1, 1, 1, 1]),  # at least one each
        (3, 4, 0.5, [1, 1, 1, 0]),  # never more than the audience
    ],
)
def test_sample_sizes(total: int, variants: int, share: float, sizes: list[int]) -> None:
    assert sample_sizes(total, variants, share) == sizes


def test_variant_names() -> None:
    assert [parse_variant(v, 4) for v in ("a", "B", "3", " d ")] == [0, 1, 2, 3]
    with pytest.raises(SendError, match="there is no variant 'E'"):
        parse_variant("E", 4)
    with pytest.raises(SendError, match="name one of A, B"):
        parse_variant("3", 2)


def test_durations() -> None:
    assert parse_duration("4h") == timedelta(hours=4)
    assert parse_duration("90 min") == timedelta(minutes=90)
    assert parse_duration("2h30m") == timedelta(hours=2, minutes=30)
    assert parse_duration("1 day") == timedelta(days=1)
    assert parse_duration("soon") is None and parse_duration("0h") is None


def test_the_front_matter_is_read(project_dir: Path, make_settings: Any) -> None:
    write_ab_issue(project_dir, sample="25%", wait="90 min", winner_by="opens")
    issue = load_issue(make_settings(), SLUG)
    assert [v.subject for v in issue.variants] == list(SUBJECTS)
    assert [v.preheader for v in issue.variants] == ["", "Preheader 1", "", "Preheader 3"]
    assert issue.ab_test == ABTest(0.25, timedelta(minutes=90), "opens")
    assert issue.subject == SUBJECTS[0]  # no subject: variant A's


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ("subject_variants: [Only one]\n", "subject_variants needs 2 to 4 subjects (1 item(s))"),
        ("subject_variants: [a, b, c, d, e]\n", "needs 2 to 4 subjects (5 item(s))"),
        ("subject_variants: [Same, Same]\n", "two subject variants are the same"),
        ("subject_variants:\n  - Fine\n  - title: x\n", "unknown key 'title' in subject variant B"),
        ("subject_variants: [a, b]\nab_test:\n  sample: 95%\n", "is not 1% to 90%"),
        ("subject_variants: [a, b]\nab_test:\n  wait: soon\n", "ab_test wait 'soon' is not"),
        ("subject_variants: [a, b]\nab_test:\n  winner_by: revenue\n", "is not clicks or opens"),
        ("subject_variants: [a, b]\nab_test:\n  split: 20%\n", "unknown key 'split' in ab_test"),
        ("ab_test:\n  sample: 20%\n", "ab_test without subject_variants"),
    ],
)
def test_mistakes_are_refused(
    project_dir: Path, make_settings: Any, block: str, problem: str
) -> None:
    issue = project_dir / "issues" / SLUG / "issue.md"
    issue.write_text(issue.read_text().replace("---\n", "---\n" + block, 1))
    with pytest.raises(ContentError) as caught:
        load_issue(make_settings(), SLUG)
    assert problem in str(caught.value)
    assert "issue.md:" in str(caught.value)  # names the file and line


def _env(project_dir: Path, db_url: str, now: datetime) -> dict[str, str]:
    return {
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_CONFIG": str(project_dir / "newsletter.toml"),
        "NEWSLETTER_NOW": now.isoformat(),
        "COLUMNS": "200",
    }


def test_the_editor_chooses_the_winner(
    project_dir: Path, make_settings: Any, db_url: str, engine: Engine
) -> None:
    write_ab_issue(project_dir, sample="50%", wait="4h")
    settings = make_settings(**{"database.url": db_url})
    sync_lists(engine, settings)
    add_audience(engine, 40)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(SendError, match="no edition"):
        choose_winner(engine, SLUG, "B", by="Ann", now=now)
    edition_id = freeze_edition(settings, engine, SLUG, clock=FixedClock(now))
    with pytest.raises(SendError, match="has not started: there is no sample yet"):
        choose_winner(engine, SLUG, "B", by="Ann", now=now)

    report = send_edition(settings, engine, edition_id, clock=FixedClock(now))
    assert (report.sent, report.status, report.waiting_for) == (20, "sending", "ab-test")
    assert report.waiting_until == now + timedelta(hours=4)
    env = _env(project_dir, db_url, now + timedelta(minutes=30))
    waiting = CliRunner().invoke(app, ["issue", "status", SLUG], env=env)
    assert waiting.exit_code == 0, waiting.output
    assert "A/B subject test: waiting" in waiting.output
    assert "the winner is chosen at 2026-12-01 13:00 GMT" in waiting.output

    bad = CliRunner().invoke(app, ["issue", "ab-winner", SLUG, "F"], env=env)
    assert bad.exit_code != 0 and "there is no variant 'F'" in bad.output
    chose = CliRunner().invoke(app, ["issue", "ab-winner", SLUG, "b", "--by", "Ann"], env=env)
    assert chose.exit_code == 0, chose.output
    assert "variant B chosen" in chose.output
    again = CliRunner().invoke(app, ["issue", "ab-winner", SLUG, "C"], env=env)
    assert again.exit_code != 0 and "already chosen: B" in again.output

    # The rest goes out at once (no waiting any longer), with B's subject.
    rest = send_edition(settings, engine, edition_id, clock=FixedClock(now + timedelta(hours=1)))
    assert (rest.sent, rest.status) == (20, "sent")
    assert variant_rows(engine, edition_id)[(1, False)] == 20
    edition = get_edition(engine, SLUG)
    assert edition.ab_decision is not None
    assert (edition.ab_decision["outcome"], edition.ab_decision["by"]) == ("editor", "Ann")
    data = json.loads(CliRunner().invoke(app, ["issue", "status", SLUG, "--json"], env=env).stdout)
    assert data["ab_test"]["winner"] == "B"
    assert data["ab_test"]["decision"]["reason"] == "chosen by the editor (Ann): variant B"


def test_a_small_test_says_so_and_sends_variant_a(
    project_dir: Path, make_settings: Any, db_url: str, engine: Engine
) -> None:
    write_ab_issue(project_dir, sample="50%", wait="1h")
    settings = make_settings(**{"database.url": db_url})
    sync_lists(engine, settings)
    add_audience(engine, 30)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    edition_id = freeze_edition(settings, engine, SLUG, clock=FixedClock(now))
    assert send_edition(settings, engine, edition_id, clock=FixedClock(now)).sent == 15
    early = send_edition(
        settings, engine, edition_id, clock=FixedClock(now + timedelta(minutes=59))
    )
    assert (early.sent, early.status) == (0, "sending")
    late = send_edition(settings, engine, edition_id, clock=FixedClock(now + timedelta(hours=1)))
    assert (late.sent, late.status) == (15, "sent")
    edition = get_edition(engine, SLUG)
    assert edition.ab_winner == 0
    assert edition.ab_decision is not None and edition.ab_decision["outcome"] == "too-small"
    assert "fewer than 50 messages" in edition.ab_decision["reason"]


@pytest.mark.slow
def test_worker_processes_send_the_sample_then_the_winner(
    project_dir: Path, make_settings: Any, db_url: str, engine: Engine
) -> None:
    from collections import Counter

    from pipeline.sending.workers import send_with_workers
    from tests.sending.abtest_helpers import keeping_smtp, smtp_settings

    write_ab_issue(project_dir, sample="40%", wait="1h")
    with keeping_smtp() as (smtp, handler):
        settings = smtp_settings(make_settings, db_url, smtp, "https://news.example.com")
        sync_lists(engine, settings)
        add_audience(engine, 120)
        now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        edition_id = freeze_edition(settings, engine, SLUG, clock=FixedClock(now))
        first = send_with_workers(settings, edition_id, 2, clock=FixedClock(now), poll=0.05)
        assert (first.sent, first.status) == (48, "sending")
        assert variant_rows(engine, edition_id)[(None, False)] == 72
        later = FixedClock(now + timedelta(hours=1, minutes=1))
        rest = send_with_workers(settings, edition_id, 2, clock=later, poll=0.05)
        assert (rest.sent, rest.status) == (72, "sent")
    copies = Counter(m.rcpt for m in handler.messages)
    assert len(copies) == 120 and set(copies.values()) == {1}
    assert Counter(m.subject for m in handler.messages[:48]) == dict.fromkeys(SUBJECTS, 12)
    assert {m.subject for m in handler.messages[48:]} == {SUBJECTS[0]}  # too small: A
    assert get_edition(engine, SLUG).ab_decision["outcome"] == "too-small"  # type: ignore[index]
