"""Tags, custom fields, segments, sunsetting and the bounce mailbox from the command line,
as an editor of a beauty newsletter would use them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.store.tables import deliveries, delivery_events, subscribers, subscription_log
from tests.conftest import TEST_SECRET
from tests.web.helpers import sent_edition

Run = Callable[..., Result]
NOW = "2026-11-30T12:00:00+00:00"
READERS = (
    "email,name,lists,Skin Type,country,tags\n"
    'amelie@example.com,Amélie,beauty-tips,oily,FR,"vip, sample-box"\n'
    "bjorn@example.com,Bjørn,beauty-tips,dry,DK,\n"
    "chloe@example.com,Chloé,beauty-tips;news,combination,FR,vip\n"
    "dagny@example.com,Dagny,news,,SE,\n"
)


@pytest.fixture
def cli(project_dir: Path, db_url: str) -> Run:
    def run(*args: str) -> Result:
        return CliRunner().invoke(
            app,
            ["--config", str(project_dir / "newsletter.toml"), *args],
            env={
                "NEWSLETTER_SECRET_KEY": TEST_SECRET,
                "NEWSLETTER_DATABASE_URL": db_url,
                "NEWSLETTER_NOW": NOW,
            },
        )

    return run


@pytest.fixture
def readers(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "readers.csv"
    path.write_text(READERS)
    result = cli("subscribers", "import", str(path))
    assert result.exit_code == 0, result.output


def test_tags_fields_and_segment_counts(cli: Run, readers: None) -> None:
    assert cli("subscribers", "tag", "bjorn@example.com", "VIP", "Dry Skin").stdout == (
        "Tagged bjorn@example.com: vip, dry skin.\n"
    )
    assert cli("subscribers", "untag", "amelie@example.com", "sample-box").stdout == (
        "Removed from amelie@example.com: sample-box.\n"
    )
    assert json.loads(cli("subscribers", "tags", "--json").stdout) == [
        {"tag": "vip", "subscribers": 3},
        {"tag": "dry skin", "subscribers": 1},
    ]
    shown = json.loads(cli("subscribers", "show", "chloe@example.com", "--json").stdout)
    assert shown["tags"] == ["vip"]
    assert shown["attributes"] == {"skin_type": "combination", "country": "FR"}
    # The segments of the repository's newsletter.toml.
    counts = {
        s["name"]: s["count"] for s in json.loads(cli("subscribers", "segments", "--json").stdout)
    }
    assert counts == {"oily-skin": 2, "vip-france": 2, "re-engage": 0}
    data = json.loads(
        cli("subscribers", "count", "--segment", "oily-skin", "-l", "news", "--json").stdout
    )
    assert data["segment"] == {"name": "oily-skin", "count": 1}  # Chloé
    missing = cli("subscribers", "tag", "nobody@example.com", "vip")
    assert missing.exit_code == 1
    assert "no subscriber nobody@example.com" in missing.output


def test_a_segment_with_a_syntax_error_names_the_setting(cli: Run, project_dir: Path) -> None:
    with (project_dir / "newsletter.toml").open("a") as fh:
        fh.write('\n[[segments]]\nname = "broken"\ncondition = \'tag "vip" and or\'\n')
    result = cli("subscribers", "segments")
    assert result.exit_code == 1
    assert "newsletter.toml: segments[3].condition (segment 'broken'): position 15:" in (
        result.output
    )


def test_an_issue_to_a_segment_and_its_custom_field(
    cli: Run, readers: None, project_dir: Path
) -> None:
    src = project_dir / "issues" / "2026-12-01-microneedling"
    dst = project_dir / "issues" / "2026-12-02-oily"
    shutil.copytree(src, dst)
    text = (
        (dst / "issue.md")
        .read_text()
        .replace("lists: [beauty-tips]", "lists: [beauty-tips]\nsegment: oily-skin")
    )
    (dst / "issue.md").write_text(
        text.replace(
            "This issue is all about",
            "For {{ recipient('skin_type', 'all') }} skin: this issue is all about",
        )
    )
    dry = cli("issue", "send", "2026-12-02-oily", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would go to 2 recipient(s) on beauty-tips in segment oily-skin" in dry.stdout
    assert "For oily skin: this issue" in dry.stdout.replace("\n", " ")
    # A misspelt field is caught by the check, before anything is sent.
    (dst / "issue.md").write_text(
        text.replace("This issue", "{{ recipient('skin_tpye') }} This issue")
    )
    check = cli("issue", "check", "2026-12-02-oily")
    assert check.exit_code == 1
    assert "unknown recipient field 'skin_tpye': no subscriber has it" in check.output


def test_sunset_lists_then_unsubscribes_the_inactive(
    cli: Run, readers: None, engine: Engine
) -> None:
    now = datetime.fromisoformat(NOW)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(subscribers.c.email, subscribers.c.id)).all())
    editions = [sent_edition(engine, f"2026-0{n}-01-issue") for n in range(1, 5)]
    with engine.begin() as conn:
        for n, edition in enumerate(editions):
            for email in ("amelie@example.com", "bjorn@example.com", "chloe@example.com"):
                did = conn.execute(
                    insert(deliveries).values(
                        edition_id=edition,
                        subscriber_id=ids[email],
                        email=email,
                        status="sent",
                        sent_at=now - timedelta(days=30 * (n + 1)),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                if email == "amelie@example.com" and n == 1:  # opened 60 days ago
                    conn.execute(
                        insert(delivery_events).values(
                            delivery_id=did,
                            edition_id=edition,
                            event="open",
                            detail={},
                            occurred_at=now - timedelta(days=59),
                        )
                    )
    # Chloé received 4 issues in 180 days and opened none; Bjørn too; Amélie opened one.
    dry = json.loads(cli("subscribers", "sunset", "--inactive", "180d", "--json").stdout)
    assert [p["email"] for p in dry["inactive"]] == ["bjorn@example.com", "chloe@example.com"]
    assert dry["unsubscribed"] == 0
    # Only 2 issues in the last 75 days: below --min-issues 3, nobody.
    short = json.loads(cli("subscribers", "sunset", "--inactive", "75d", "--json").stdout)
    assert short["inactive"] == []
    applied = cli("subscribers", "sunset", "--inactive", "180d", "--apply")
    assert applied.exit_code == 0, applied.output
    assert "Unsubscribed 2 inactive subscriber(s); reason recorded: sunset." in applied.stdout
    with engine.connect() as conn:
        log = conn.execute(
            select(subscription_log.c.subscriber_id, subscription_log.c.detail).where(
                subscription_log.c.action == "sunset"
            )
        ).all()
        status = dict(conn.execute(select(subscribers.c.email, subscribers.c.status)).all())
    assert sorted(r.subscriber_id for r in log) == sorted(
        [ids["bjorn@example.com"], ids["chloe@example.com"]]
    )
    assert log[0].detail == {"inactive_days": 180, "issues_sent": 4}
    assert (
        status["chloe@example.com"] == "unsubscribed" and status["amelie@example.com"] == "active"
    )
    bad = cli("subscribers", "sunset", "--inactive", "half a year")
    assert bad.exit_code == 1
    assert "--inactive 'half a year' is not a period (write days or weeks, e.g. 180d or 26w)" in (
        bad.output
    )


def test_bounces_fetch_from_an_empty_maildir_and_without_a_mailbox(
    cli: Run, project_dir: Path
) -> None:
    none = cli("bounces", "fetch")
    assert none.exit_code == 1
    assert "no bounce mailbox is configured" in none.output
    box = project_dir / "var" / "bounces"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    toml = project_dir / "newsletter.toml"
    toml.write_text(toml.read_text().replace('mailbox = ""', 'mailbox = "maildir"'))
    result = cli("bounces", "fetch", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["messages"] == 0
