"""CSV imports: dialects, the formats of other tools, bad input, idempotency, interruption."""

from __future__ import annotations

import csv
import gc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from pipeline.config import Settings
from pipeline.errors import SubscriberError
from pipeline.store.tables import subscriptions
from pipeline.subscribers.erasure import erase
from pipeline.subscribers.importing import import_subscribers
from pipeline.subscribers.service import add_subscriber, get_subscriber, is_suppressed, sync_lists
from tests.conftest import REPO
from tests.subscribers.helpers import audience, people, table_counts, write

BOTH = ["beauty-tips", "news"]


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Engine:
    sync_lists(engine, settings)
    return engine


def test_sample_imports_twice_without_changes(db: Engine, tmp_path: Path) -> None:
    sample = REPO / "subscribers" / "sample.csv"
    first = import_subscribers(db, sample)
    assert (first.added, first.rejected, first.rows) == (25, 0, 25)
    before = people(db)
    second = import_subscribers(db, sample)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 25)
    assert people(db) == before
    assert len(audience(db, BOTH)) == 25
    info = get_subscriber(db, email="sofia.papadopoulou@example.com")
    assert info is not None and info.name == "Σοφία Παπαδοπούλου"
    assert info.attributes == {"city": "Θεσσαλονίκη"}
    with db.connect() as conn:
        consent = conn.execute(
            select(
                subscriptions.c.consent_at,
                subscriptions.c.consent_method,
                subscriptions.c.consent_text,
            ).where(subscriptions.c.subscriber_id == info.id)
        ).first()
    assert consent == (datetime(2026, 2, 1, 15, 30, tzinfo=UTC), "import", "sample.csv")


DIALECT = (
    "email,name,lists\n"
    'ann@example.com,"Lee, Ann",news\n'
    'bo@example.org,"Bo ""the"" Berg\nsecond line",beauty-tips;news\n'
)


@pytest.mark.parametrize(
    ("encoding", "newline", "delimiter"),
    [
        ("utf-8", "\n", ","),
        ("utf-8-sig", "\r\n", ","),
        ("utf-8-sig", "\n", ";"),
        ("utf-8", "\r\n", ";"),
    ],
)
def test_csv_dialects(
    db: Engine, tmp_path: Path, encoding: str, newline: str, delimiter: str
) -> None:
    text = (
        DIALECT
        if delimiter == ","
        else DIALECT.replace(",", ";")
        .replace("beauty-tips;news", '"beauty-tips;news"')
        .replace('"Lee; Ann"', '"Lee, Ann"')
    )
    path = write(tmp_path / "in.csv", text, encoding, newline)
    report = import_subscribers(db, path)
    assert (report.added, report.rejected) == (2, 0)
    assert report.delimiter == delimiter
    found = people(db)
    assert found["ann@example.com"]["name"] == "Lee, Ann"
    assert found["bo@example.org"]["name"].splitlines() == ['Bo "the" Berg', "second line"]
    assert len(found["bo@example.org"]["lists"]) == 2


def _rejects(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_bad_rows_are_rejected_with_reasons(db: Engine, tmp_path: Path) -> None:
    huge = "x" * 2_000_000
    path = write(
        tmp_path / "bad.csv",
        "email,name,lists\n"
        "good@example.com,Good,news\n"
        "not-an-address,Bad,news\n"
        "GOOD@example.com,Again,news\n"
        "more@example.com,Too,news,many\n"
        f"long@example.com,{huge},news\n"
        "who@example.com,Who,nope\n"
        "\n"
        "last@example.com,Last,news\n",
    )
    report = import_subscribers(db, path)
    assert (report.rows, report.added, report.rejected) == (7, 2, 5)
    assert report.rejects_path == tmp_path / "bad.rejects.csv"
    rows = _rejects(report.rejects_path)
    assert [r[:2] for r in rows] == [
        ["line", "reason"],
        [
            "3",
            "'not-an-address' is not a valid email address: An email address must have an @-sign.",
        ],
        ["4", "duplicate: good@example.com is already on line 2"],
        ["5", "the row has 4 fields but the header has 3 (an unquoted delimiter?)"],
        ["6", "field 2 (name) is 2,000,000 characters long; at most 10,000 are allowed"],
        ["7", "unknown list 'nope' (known lists: beauty-tips, news)"],
    ]
    assert rows[0][2:] == ["email", "name", "lists"]
    assert len(rows[4][3]) == 1001  # long cells are cut in the rejects file
    assert sorted(people(db)) == ["good@example.com", "last@example.com"]


def test_unclosed_quote_and_stray_quote(db: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "q.csv",
        'email,name\nok@example.com,"Ok"x\nfine@example.com,Fine\nann@example.com,"Ann\n'
        "bo@example.com,Bo\n",
    )
    report = import_subscribers(db, path, lists=["news"])
    assert (report.added, report.rejected) == (1, 2)
    assert report.rejects_path is not None
    assert [r[:2] for r in _rejects(report.rejects_path)[1:]] == [
        ["2", "unreadable row: a quote in the middle of a field (',' expected after '\"')"],
        [
            "4",
            "unreadable row: a quoted field is never closed (the rest of the file was read"
            " into it)",
        ],
    ]


def test_rejects_path_option(db: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "email\nnope\n")
    target = tmp_path / "out" / "r.csv"
    report = import_subscribers(db, path, lists=["news"], rejects_path=target)
    assert report.rejects_path == target
    assert _rejects(target)[1][:2] == [
        "2",
        "'nope' is not a valid email address: An email address must have an @-sign.",
    ]


def test_rejects_file_that_cannot_be_written(db: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "email\nnope\n")
    (tmp_path / "taken").write_text("a file, not a folder")
    target = tmp_path / "taken" / "r.csv"
    with pytest.raises(SubscriberError) as err:
        import_subscribers(db, path, lists=["news"], rejects_path=target)
    assert str(err.value) == (
        f"{target}: cannot write the rejects file: File exists (name another file with"
        " --rejects PATH and run the import again)"
    )


def test_file_without_email_column(db: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", "Mail,Full name\na@example.com,A\n")
    with pytest.raises(SubscriberError) as err:
        import_subscribers(db, path, lists=["news"])
    assert str(err.value) == (
        "no email column; headers found: 'Mail', 'Full name' (expected email (plain, listmonk,"
        ' Ghost, Substack) or "Email Address" (Mailchimp); rename the column or name the'
        " format with --format)"
    )
    assert table_counts(db)["subscribers"] == 0


def test_wrong_encoding_is_refused_before_anything_is_written(db: Engine, tmp_path: Path) -> None:
    rows = "".join(f"p{i}@example.com,Person {i}\n" for i in range(50))
    path = write(
        tmp_path / "latin.csv", "email,name\n" + rows + "zoe@example.com,Zoë\n", encoding="latin-1"
    )
    with pytest.raises(SubscriberError) as err:
        import_subscribers(db, path, lists=["news"], batch_size=10)
    offset = len(("email,name\n" + rows + "zoe@example.com,Zo").encode())
    assert str(err.value) == (
        f"{path}:52: the file is not UTF-8: byte 0xEB at offset {offset} cannot be decoded"
        " (save it as UTF-8 (in a spreadsheet: Save As, 'CSV UTF-8') and import again)"
    )
    assert table_counts(db)["subscribers"] == 0
    utf16 = write(tmp_path / "u16.csv", "email\na@example.com\n", encoding="utf-16")
    with pytest.raises(SubscriberError) as err:
        import_subscribers(db, utf16, lists=["news"])
    assert str(err.value).startswith(f"{utf16}:1: the file is UTF-16, not UTF-8 (")


def test_which_lists(db: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "email\na@example.com\n")
    with pytest.raises(SubscriberError) as err:
        import_subscribers(db, path)
    assert str(err.value) == (
        f"{path}: which lists? the file has no 'lists' column (name them with --list SLUG"
        " (known lists: beauty-tips, news))"
    )
    with pytest.raises(SubscriberError) as err:
        import_subscribers(db, path, lists=["gone"])
    assert str(err.value).startswith("unknown list 'gone' (known lists: beauty-tips, news;")


MAILCHIMP = (
    '"Email Address","First Name","Last Name","Birthday",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,'
    "CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,"
    "LAST_CHANGED,LEID,EUID,NOTES,TAGS\n"
    "Ana@Example.com,Ana,Silva,03/14,2,2024-01-02 10:00:00,192.0.2.10,2024-01-02 10:05:00,"
    '192.0.2.11,,,,,,,,2024-01-02 10:05:00,1,abc,,"""vip"",""2024"""\n'
)
MAILCHIMP_UNSUB = (
    '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,'
    "CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,UNSUB_TIME,"
    "UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER,LEID,EUID,NOTES,TAGS\n"
    "gone@example.com,Gone,Away,2,2023-01-01 00:00:00,,,,,,,,,,,2024-02-01 00:00:00,Spring,"
    "abc,NO_LONGER_INTERESTED,,2,def,,\n"
)
MAILCHIMP_CLEANED = (
    '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,'
    "CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,CLEAN_TIME,"
    "CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,LEID,EUID,NOTES,TAGS\n"
    "dead@example.com,Dead,Box,1,2023-01-01 00:00:00,,,,,,,,,,,2024-03-01 00:00:00,Spring,"
    "abc,3,ghi,,\n"
)


def test_mailchimp_exports(db: Engine, tmp_path: Path) -> None:
    report = import_subscribers(db, write(tmp_path / "subscribed.csv", MAILCHIMP), lists=["news"])
    assert (report.format, report.added) == ("mailchimp", 1)
    info = get_subscriber(db, email="ana@example.com")
    assert info is not None
    assert (info.name, info.subscriptions) == ("Ana Silva", {"news": "confirmed"})
    assert info.attributes.pop("given_name") == "Ana"  # greetings use the first name
    # TAGS ("vip","2024" as Mailchimp quotes them) become tags, not a quoted string.
    assert info.attributes == {"birthday": "03/14"}
    assert info.tags == ["2024", "vip"]
    with db.connect() as conn:
        row = conn.execute(
            select(subscriptions).where(subscriptions.c.subscriber_id == info.id)
        ).first()
    assert row is not None
    assert (row.consent_at, row.consent_ip, row.confirmed_at, row.confirm_ip) == (
        datetime(2024, 1, 2, 10, 0, tzinfo=UTC),
        "192.0.2.10",
        datetime(2024, 1, 2, 10, 5, tzinfo=UTC),
        "192.0.2.11",
    )
    # The unsubscribed and cleaned exports need no list: they only suppress.
    unsub = import_subscribers(db, write(tmp_path / "unsubscribed.csv", MAILCHIMP_UNSUB))
    cleaned = import_subscribers(db, write(tmp_path / "cleaned.csv", MAILCHIMP_CLEANED))
    assert (unsub.suppressed, unsub.newly_suppressed, cleaned.newly_suppressed) == (1, 1, 1)
    assert is_suppressed(db, "gone@example.com") and is_suppressed(db, "dead@example.com")
    assert get_subscriber(db, email="gone@example.com") is None  # kept as a hash only
    # A later import never brings them back.
    again = write(
        tmp_path / "again.csv", "email,lists\ngone@example.com,news\ndead@example.com,news\n"
    )
    report = import_subscribers(db, again)
    assert (report.added, report.suppressed, report.newly_suppressed) == (0, 2, 0)
    assert audience(db, BOTH) == ["ana@example.com"]


def test_unsubscribed_row_suppresses_an_existing_subscriber(db: Engine, tmp_path: Path) -> None:
    add_subscriber(db, "ana@example.com", lists=BOTH, method="cli", confirmed=True)
    report = import_subscribers(
        db,
        write(tmp_path / "u.csv", MAILCHIMP_UNSUB.replace("gone@example.com", "ANA@example.com")),
    )
    assert (report.suppressed, report.newly_suppressed) == (1, 1)
    info = get_subscriber(db, email="ana@example.com")
    assert info is not None and info.status == "unsubscribed"
    assert info.subscriptions == {"beauty-tips": "unsubscribed", "news": "unsubscribed"}
    assert audience(db, BOTH) == []


def test_listmonk_ghost_substack(db: Engine, tmp_path: Path) -> None:
    listmonk = write(
        tmp_path / "listmonk.csv",
        "uuid,email,name,attributes,status,created_at,updated_at\n"
        'u1,lm@example.com,Lís,"{""city"": ""Bergen""}",enabled,2023-05-01T10:00:00Z,\n'
        "u2,blocked@example.com,B,{},blocklisted,2023-05-01T10:00:00Z,\n",
    )
    ghost = write(
        tmp_path / "ghost.csv",
        "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,"
        "created_at,deleted_at,labels,tiers\n"
        "g1,gh@example.com,Gábor,likes serums,true,false,,2023-06-01T08:00:00.000Z,,"
        '"vip, early",\n'
        "g2,off@example.com,Off,,false,false,,2023-06-01T08:00:00.000Z,,,\n",
    )
    substack = write(
        tmp_path / "substack.csv",
        "email,active_subscription,expiry,plan,email_disabled,created_at\n"
        "ss@example.com,false,,free,false,2022-01-01T00:00:00.000Z\n"
        "quiet@example.com,true,2025-01-01,yearly,true,2022-01-01T00:00:00.000Z\n",
    )
    for path, fmt in ((listmonk, "listmonk"), (ghost, "ghost"), (substack, "substack")):
        report = import_subscribers(db, path, lists=["beauty-tips"])
        assert (report.format, report.added, report.newly_suppressed) == (fmt, 1, 1)
    found = people(db)
    assert found["lm@example.com"]["attributes"] == {"city": "Bergen"}
    ghost_person = get_subscriber(db, email="gh@example.com")
    assert ghost_person is not None and ghost_person.tags == ["early", "vip"]
    assert found["gh@example.com"]["attributes"] == {
        "note": "likes serums",
        "complimentary_plan": "false",
    }
    assert found["ss@example.com"]["attributes"] == {"active_subscription": "false", "plan": "free"}
    for address in ("blocked@example.com", "off@example.com", "quiet@example.com"):
        assert is_suppressed(db, address)
    assert audience(db, ["beauty-tips"]) == ["lm@example.com", "gh@example.com", "ss@example.com"]


def test_forced_format(db: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "email,attributes\na@example.com,plain text\n")
    report = import_subscribers(db, path, lists=["news"], format="plain")
    assert (report.format, report.added) == ("plain", 1)
    with pytest.raises(SubscriberError) as err:
        import_subscribers(db, path, lists=["news"], format="mailchimp")
    assert str(err.value) == (
        "no 'email address' column for the mailchimp format; headers found: 'email',"
        " 'attributes' (expected email (plain, listmonk, Ghost, Substack) or \"Email Address\""
        " (Mailchimp))"
    )


def test_unconfirmed_then_confirmed(db: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "email,name\na@example.com,A\n")
    first = import_subscribers(db, path, lists=["news"], confirmed=False)
    assert first.added == 1 and audience(db, ["news"]) == []
    second = import_subscribers(db, path, lists=["news"])
    assert (second.updated, audience(db, ["news"])) == (1, ["a@example.com"])
    third = import_subscribers(
        db,
        write(
            tmp_path / "y.csv",
            "email,name,lists,status\na@example.com,A,news;beauty-tips,unconfirmed\n",
        ),
    )
    assert third.updated == 1  # a new (unconfirmed) list; news stays confirmed
    info = get_subscriber(db, email="a@example.com")
    assert info is not None
    assert info.subscriptions == {"beauty-tips": "unconfirmed", "news": "confirmed"}


def test_interrupted_import_completes_on_the_second_run(db: Engine, tmp_path: Path) -> None:
    rows = "".join(f"p{i}@example.com,Person {i},news\n" for i in range(10))
    path = write(tmp_path / "x.csv", "email,name,lists\n" + rows)
    calls = []

    def stop(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:  # the first call (0 bytes) comes before any batch
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_subscribers(db, path, batch_size=3, progress=stop)
    assert table_counts(db) == {"subscribers": 6, "subscriptions": 6, "suppressions": 0}
    report = import_subscribers(db, path, batch_size=3)
    assert (report.added, report.unchanged) == (4, 6)
    assert len(audience(db, ["news"])) == 10


def test_erased_address_never_comes_back(db: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "email,lists\nEve@example.com,news\n")
    import_subscribers(db, path)
    erase(db, "eve@example.com")
    assert get_subscriber(db, email="eve@example.com") is None
    report = import_subscribers(db, path)
    assert (report.added, report.suppressed) == (0, 1)
    result = add_subscriber(
        db, "EVE@example.com", lists=["news"], method="web", confirmed=True, allow_resubscribe=True
    )
    assert result == type(result)(None, False, True)
    assert table_counts(db) == {"subscribers": 0, "subscriptions": 0, "suppressions": 1}


def test_import_puts_the_connection_and_the_collector_back(
    db: Engine, tmp_path: Path, db_kind: str
) -> None:
    """The import's PRAGMAs (SQLite) and its pause of the garbage collector end with it,
    also when it is interrupted."""
    rows = "".join(f"p{i}@example.com,news\n" for i in range(7))
    path = write(tmp_path / "x.csv", "email,lists\n" + rows)
    names = ("cache_size", "foreign_keys", "wal_autocheckpoint")
    returned: list[tuple[int, ...]] = []
    during: list[tuple[int, ...]] = []

    @event.listens_for(db, "checkin")
    def _returned(dbapi_conn: Any, _record: Any) -> None:
        if db_kind == "sqlite" and dbapi_conn is not None:
            returned.append(tuple(dbapi_conn.execute(f"PRAGMA {n}").fetchone()[0] for n in names))

    def stop(done: int, total: int) -> None:
        during.append((int(gc.isenabled()),))
        if len(during) == 2:
            raise KeyboardInterrupt

    assert gc.isenabled()
    with pytest.raises(KeyboardInterrupt):
        import_subscribers(db, path, batch_size=3, progress=stop)
    assert gc.isenabled() and during == [(0,), (0,)]
    assert table_counts(db)["subscribers"] == 3  # whole batches only
    import_subscribers(db, path, batch_size=3)
    assert gc.isenabled()
    gc.disable()
    try:
        import_subscribers(db, path, batch_size=3)
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()
    if db_kind == "sqlite":
        assert returned and set(returned) == {(-2000, 1, 1000)}  # SQLite's and connect()'s
