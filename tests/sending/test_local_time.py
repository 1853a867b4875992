"""Local-time sending: readers in Pacific/Auckland, Europe/London and America/Los_Angeles
each get the issue at 09:00 on their own clock, zone by zone from `send-due`, over SMTP
with an injected clock; the daylight-saving rule; what is refused."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.clock import FixedClock
from pipeline.errors import ContentError
from pipeline.scheduling.due import send_due
from pipeline.scheduling.plan import schedule_issue
from pipeline.sending.editions import get_edition
from pipeline.sending.localtime import earliest, local_instant
from pipeline.store.tables import deliveries, subscribers
from pipeline.subscribers.lists import sync_lists
from tests.conftest import TEST_SECRET
from tests.sending.abtest_helpers import SLUG, keeping_smtp, smtp_settings, write_ab_issue
from tests.sending.conftest import add_audience

ZONES = {
    "Pacific/Auckland": 30,
    "Europe/London": 30,
    "America/Los_Angeles": 30,
    None: 10,  # no timezone field: the newsletter's zone (Europe/London)
    "Mars/Olympus_Mons": 5,  # not a zone: the newsletter's zone too
}
NZ = datetime(2027, 1, 9, 20, 0, tzinfo=UTC)  # 09:00 NZDT (+13)
UK = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)  # 09:00 GMT
LA = datetime(2027, 1, 10, 17, 0, tzinfo=UTC)  # 09:00 PST (-8)


def write_local_issue(root: Path, when: str = "2027-01-10 09:00") -> None:
    issue = root / "issues" / SLUG / "issue.md"
    issue.write_text(issue.read_text().replace("---\n", f"---\nsend_at_local: {when}\n", 1))


def audience(engine: Engine) -> dict[str, str | None]:
    """Subscribers in each zone of ZONES; returns email -> zone field."""
    who: dict[str, str | None] = {}
    start = 0
    for zone, n in ZONES.items():
        ids = add_audience(engine, n, start=start)
        if zone is not None:
            with engine.begin() as conn:
                conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id.in_(ids))
                    .values(attributes={"timezone": zone, "skin_type": "dry"})
                )
        who.update({f"reader{i}@example.org": zone for i in range(start, start + n)})
        start += n
    return who


def cli(project_dir: Path, db_url: str, now: datetime, *args: str) -> Any:
    env = {
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_CONFIG": str(project_dir / "newsletter.toml"),
        "NEWSLETTER_NOW": now.isoformat(),
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def test_each_zone_gets_it_at_nine_local(
    project_dir: Path, make_settings: Any, db_url: str, engine: Engine
) -> None:
    write_local_issue(project_dir)
    with keeping_smtp() as (smtp, handler):
        settings = smtp_settings(make_settings, db_url, smtp, "https://news.example.com")
        sync_lists(engine, settings)
        who = audience(engine)
        clock = FixedClock(datetime(2027, 1, 5, tzinfo=UTC))
        scheduled = schedule_issue(settings, engine, SLUG, clock=clock)
        assert scheduled.send_at == NZ  # the earliest zone
        assert scheduled.source == "send_at_local (the earliest zone)"

        sent_at: dict[str, datetime] = {}

        def run(at: datetime) -> Any:
            clock.current = at
            before = len(handler.messages)
            report = send_due(settings, engine, clock=clock, worker="cron", workers=1)
            for m in handler.messages[before:]:
                sent_at[m.rcpt] = at
            return report

        assert run(NZ - timedelta(minutes=1)).outcomes == []
        [first] = run(NZ).outcomes
        assert (first.sent, first.status) == (30, "sending")
        assert "the next time zone falls due 2027-01-10 09:00 GMT" in first.message
        assert run(UK - timedelta(minutes=1)).outcomes[0].sent == 0
        status = json.loads(cli(project_dir, db_url, UK, "issue", "status", SLUG, "--json").stdout)
        assert [(z["zone"], z["state"], z["sent"], z["pending"]) for z in status["zones"]] == [
            ("Pacific/Auckland", "done", 30, 0),
            ("Europe/London", "waiting", 0, 45),
            ("America/Los_Angeles", "waiting", 0, 30),
        ]
        assert status["last_zone_due_at"] == LA.isoformat()
        assert run(UK).outcomes[0].sent == 45  # London, no zone, an unknown zone
        assert run(LA - timedelta(minutes=1)).outcomes[0].sent == 0
        [last] = run(LA).outcomes
        assert (last.action, last.sent, last.status) == ("sent", 30, "sent")

    # Each reader got exactly one message, at 09:00 on their own clock.
    assert Counter(m.rcpt for m in handler.messages) == dict.fromkeys(who, 1)
    local = {
        rcpt: sent_at[rcpt].astimezone(ZoneInfo(zone or "Europe/London"))
        for rcpt, zone in who.items()
        if zone != "Mars/Olympus_Mons"
    }
    assert {(t.hour, t.minute) for t in local.values()} == {(9, 0)}
    assert {t.date().isoformat() for t in local.values()} == {"2027-01-10"}
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.zone, deliveries.c.not_before, deliveries.c.sent_at)
        ).all()
    assert Counter((r.zone, r.not_before, r.sent_at) for r in rows) == {
        ("Pacific/Auckland", NZ, NZ): 30,
        ("Europe/London", UK, UK): 45,
        ("America/Los_Angeles", LA, LA): 30,
    }
    edition = get_edition(engine, SLUG)
    assert edition.status == "sent"
    # The issue's date is the readers' day, not the day the first zone falls due in London.
    text = edition.compiled.text.fill({})
    assert "10 January 2027" in text and "9 January 2027" not in text
    table = cli(project_dir, db_url, LA, "issue", "status", SLUG).stdout
    assert "Local time: 2027-01-10 09:00 in each reader's zone" in table
    assert "The last zone falls due at 2027-01-10 17:00 UTC." in table
    print(
        "\nlocal-time deliveries (UTC): "
        + ", ".join(
            f"{z} {t:%Y-%m-%d %H:%M}"
            for z, t in (
                ("Pacific/Auckland", NZ),
                ("Europe/London", UK),
                ("America/Los_Angeles", LA),
            )
        )
    )


@pytest.mark.parametrize(
    ("zone", "wall", "expected"),
    [
        # clocks go forward 02:00 -> 03:00: 02:30 is sent at 03:00 PDT
        ("America/Los_Angeles", "2027-03-14 02:30", "2027-03-14 10:00"),
        # clocks go back 02:00 -> 01:00: 01:30 happens twice; the first (PDT) is used
        ("America/Los_Angeles", "2027-11-07 01:30", "2027-11-07 08:30"),
        # London: 01:30 on 28 March 2027 does not exist (01:00 -> 02:00 BST)
        ("Europe/London", "2027-03-28 01:30", "2027-03-28 01:00"),
        # Auckland: 02:30 on 26 September 2027 does not exist (02:00 -> 03:00 NZDT)
        ("Pacific/Auckland", "2027-09-26 02:30", "2027-09-25 14:00"),
        # Auckland: 02:30 on 4 April 2027 happens twice; the first is NZDT (+13)
        ("Pacific/Auckland", "2027-04-04 02:30", "2027-04-03 13:30"),
        ("Europe/London", "2027-01-10 09:00", "2027-01-10 09:00"),
    ],
)
def test_daylight_saving_rule(zone: str, wall: str, expected: str) -> None:
    when = local_instant(datetime.fromisoformat(wall), ZoneInfo(zone))
    assert when == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_the_earliest_zone() -> None:
    wall = datetime(2027, 1, 10, 9, 0)
    assert earliest(wall, ["Europe/London", "Pacific/Auckland", "nowhere"]) == NZ


def _load_error(project_dir: Path, make_settings: Any) -> str:
    from pipeline.content.issues import load_issue

    with pytest.raises(ContentError) as caught:
        load_issue(make_settings(), SLUG)
    return str(caught.value)


def test_ab_test_and_local_time_are_refused_together(project_dir: Path, make_settings: Any) -> None:
    write_ab_issue(project_dir)
    write_local_issue(project_dir)
    message = _load_error(project_dir, make_settings)
    assert "an A/B subject test cannot be sent at local time" in message
    assert "remove 'subject_variants:' or 'send_at_local:'" in message


def test_send_at_and_send_at_local_are_refused_together(
    project_dir: Path, make_settings: Any
) -> None:
    write_local_issue(project_dir)
    issue = project_dir / "issues" / SLUG / "issue.md"
    issue.write_text(issue.read_text().replace("---\n", "---\nsend_at: 2027-01-10 09:00\n", 1))
    assert "send_at and send_at_local are both set" in _load_error(project_dir, make_settings)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2027-01-10", "has no time of day"),
        ("tomorrow 9am", "is not a date and time"),
        ("2027-02-30 09:00", "is not a date and time"),
    ],
)
def test_bad_send_at_local(project_dir: Path, make_settings: Any, value: str, problem: str) -> None:
    write_local_issue(project_dir, value)
    assert problem in _load_error(project_dir, make_settings)


def test_schedule_at_is_refused_with_send_at_local(
    project_dir: Path, make_settings: Any, db_url: str, engine: Engine
) -> None:
    from pipeline.errors import ScheduleError

    write_local_issue(project_dir)
    settings = make_settings(**{"database.url": db_url})
    sync_lists(engine, settings)
    add_audience(engine, 2)
    with pytest.raises(ScheduleError, match=re.escape("has send_at_local")):
        schedule_issue(
            settings, engine, SLUG, at="2027-01-10 09:00", clock=FixedClock(NZ - timedelta(days=3))
        )
