"""Imports that must not resurrect anyone: Buttondown's subscriber types, unknown status
columns, one-column rows, US dates, complaints; exports safe in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from pipeline.config import Settings
from pipeline.errors import SubscriberError
from pipeline.store.tables import subscriptions
from pipeline.subscribers.exporting import export_csv
from pipeline.subscribers.importing import import_subscribers
from pipeline.subscribers.service import add_subscriber, get_subscriber, sync_lists
from pipeline.subscribers.suppression import suppression_reason
from tests.subscribers.helpers import audience, write

BOTH = ["beauty-tips", "news"]

# Buttondown's subscriber export (2024 header).
BUTTONDOWN = (
    "id,email,subscriber_type,creation_date,notes,metadata,tags,referrer_url,secondary_id\n"
    "1,reg@example.com,regular,2023-05-01T10:00:00.123456+00:00,,{},,,1\n"
    '2,prem@example.com,premium,2023-05-02T10:00:00+00:00,,"{""plan"": ""gold""}",'
    "\"['vip']\",,2\n"
    "3,new@example.com,unactivated,2023-05-03T10:00:00+00:00,,{},,,3\n"
    "4,left@example.com,unsubscribed,2023-05-04T10:00:00+00:00,,{},,,4\n"
    "5,dead@example.com,undeliverable,2023-05-05T10:00:00+00:00,,{},,,5\n"
    "6,angry@example.com,unsubscribed,2023-05-06T10:00:00+00:00,"
    "marked us as spam (abuse complaint),{},,,6\n"
    "7,odd@example.com,hibernating,2023-05-07T10:00:00+00:00,,{},,,7\n"
)


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Engine:
    sync_lists(engine, settings)
    return engine


def test_a_buttondown_export_honours_subscriber_types(db: Engine, tmp_path: Path) -> None:
    report = import_subscribers(db, write(tmp_path / "buttondown.csv", BUTTONDOWN), lists=["news"])
    assert report.format == "buttondown"
    assert (report.added, report.rejected) == (3, 1)
    assert audience(db, BOTH) == ["reg@example.com", "prem@example.com"]
    new = get_subscriber(db, email="new@example.com")
    assert new is not None and new.subscriptions == {"news": "unconfirmed"}
    prem = get_subscriber(db, email="prem@example.com")
    assert prem is not None
    assert prem.attributes == {
        "plan": "gold",
        "buttondown_type": "premium",
        "secondary_id": "2",
    }
    assert suppression_reason(db, "left@example.com") == "unsubscribed"
    assert suppression_reason(db, "dead@example.com") == "bounced"
    assert suppression_reason(db, "angry@example.com") == "complained"
    assert report.rejects_path is not None
    rejected = list(csv.reader(report.rejects_path.open()))[1]
    assert rejected[:2] == [
        "8",
        "unknown Buttondown subscriber_type 'hibernating' (known: regular, premium, gifted,"
        " trialed, churning, past_due, paused, unactivated, unpaid, unsubscribed,"
        " undeliverable, complained, spammy, removed, blocked); change it to one of these to"
        " import the row",
    ]
    with db.connect() as conn:
        consent = conn.execute(
            select(subscriptions.c.consent_at).where(subscriptions.c.subscriber_id == prem.id)
        ).scalar_one()
    assert consent == datetime(2023, 5, 2, 10, 0, tzinfo=UTC)


def test_an_older_buttondown_header_is_recognised_by_what_it_has(
    db: Engine, tmp_path: Path
) -> None:
    older = "email,type,creation_date,notes\nold@example.com,unsubscribed,2021-01-01,\n"
    add_subscriber(db, "old@example.com", lists=["news"], method="cli", confirmed=True)
    report = import_subscribers(db, write(tmp_path / "b.csv", older), lists=["news"])
    assert (report.format, report.suppressed) == ("buttondown", 1)
    assert audience(db, BOTH) == []


def test_an_unread_status_column_stops_the_import_with_how_to_map_it(
    db: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path / "x.csv", "email,subscription_status\na@example.com,unsubscribed\n")
    with pytest.raises(SubscriberError) as err:
        import_subscribers(db, path, lists=["news"])
    assert str(err.value) == (
        "the column 'subscription_status' looks like a subscription status, which the plain"
        " format does not read: every row would be imported as subscribed (rename it to"
        " 'status' with the values subscribed, unconfirmed, unsubscribed, bounced or"
        " complained (one per row), or remove the column if it means something else;"
        " Buttondown exports are read with --format buttondown)"
    )
    assert audience(db, BOTH) == []
    # A date or an id next to such a name is not a status.
    fine = write(tmp_path / "ok.csv", "email,subscription_date\nb@example.com,2024-01-01\n")
    assert import_subscribers(db, fine, lists=["news"]).added == 1


def test_one_column_rows_are_rejected(db: Engine, tmp_path: Path) -> None:
    listmonk = write(
        tmp_path / "listmonk.csv",
        "uuid,email,name,attributes,status,created_at,updated_at\n"
        "u1,lm@example.com,Lís,{},enabled,2023-05-01T10:00:00Z,\n"
        "stray@example.com\n",
    )
    report = import_subscribers(db, listmonk, lists=["news"])
    assert (report.added, report.rejected) == (1, 1)
    assert report.rejects_path is not None
    assert list(csv.reader(report.rejects_path.open()))[1][:2] == [
        "3",
        "the row has 1 field but the header has 7 (a line cut short or a stray line; "
        "listmonk skips such rows too)",
    ]


def test_us_and_iso_dates_are_read_and_ambiguous_ones_counted(db: Engine, tmp_path: Path) -> None:
    ghost = write(
        tmp_path / "ghost.csv",
        "id,email,name,note,subscribed_to_emails,created_at,deleted_at,labels\n"
        "g1,us@example.com,U,,true,12/25/2023 9:30 PM,,\n"
        "g2,eu@example.com,E,,true,25/12/2023,,\n"
        "g3,amb@example.com,A,,true,05/04/2024,,\n"
        'g4,word@example.com,W,,true,"May 4, 2024",,\n'
        "g5,iso@example.com,I,,true,2024-05-04T08:00:00.000Z,,\n"
        "g6,bad@example.com,B,,true,31/31/2024,,\n",
    )
    report = import_subscribers(db, ghost, lists=["news"])
    assert (report.added, report.rejected) == (5, 1)
    assert (report.ambiguous_dates, report.ambiguous_example) == (1, "05/04/2024")
    with db.connect() as conn:
        found = {
            r.subscriber_id: r.consent_at
            for r in conn.execute(select(subscriptions.c.subscriber_id, subscriptions.c.consent_at))
        }
    when = {}
    for email in ("us", "eu", "amb", "word", "iso"):
        info = get_subscriber(db, email=f"{email}@example.com")
        assert info is not None
        when[email] = found[info.id]
    assert when == {
        "us": datetime(2023, 12, 25, 21, 30, tzinfo=UTC),
        "eu": datetime(2023, 12, 25, tzinfo=UTC),
        "amb": datetime(2024, 5, 4, tzinfo=UTC),
        "word": datetime(2024, 5, 4, tzinfo=UTC),
        "iso": datetime(2024, 5, 4, 8, tzinfo=UTC),
    }


def test_a_mailchimp_abuse_complaint_is_kept_as_complained(db: Engine, tmp_path: Path) -> None:
    export = (
        '"Email Address",UNSUB_TIME,UNSUB_REASON,UNSUB_REASON_OTHER,NOTES\n'
        "angry@example.com,2024-02-01 00:00:00,ABUSE,,\n"
        "bye@example.com,2024-02-01 00:00:00,NO_LONGER_INTERESTED,,\n"
    )
    report = import_subscribers(db, write(tmp_path / "unsub.csv", export))
    assert report.newly_suppressed == 2
    assert suppression_reason(db, "angry@example.com") == "complained"
    assert suppression_reason(db, "bye@example.com") == "unsubscribed"


def test_exports_escape_formulas_and_import_back_unchanged(db: Engine, tmp_path: Path) -> None:
    names = ['=HYPERLINK("https://evil.example","click")', "+1 555", "-dash", "@at"]
    for i, name in enumerate(names):
        add_subscriber(
            db, f"f{i}@example.com", name=name, lists=["news"], method="cli", confirmed=True
        )
    out = io.StringIO()
    export_csv(db, out, None)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["name"] for r in rows] == ["'" + n for n in names]
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for v in r.values())
    # Our own export imports back with the names as they were.
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    for i in range(len(names)):
        sub = get_subscriber(db, email=f"f{i}@example.com")
        assert sub is not None
    report = import_subscribers(db, path)
    assert report.format == "newsletter" and report.rejected == 0 and report.updated == 0
    got = get_subscriber(db, email="f0@example.com")
    assert got is not None and got.name == names[0]
