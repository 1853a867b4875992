"""Every message of the corpus (tests/bounces/corpus/README.md) is understood: the failed
address is found, hard or soft as the message says, and acted on once."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipeline.bounces.mailbox import fetch_bounces
from pipeline.config import Settings
from pipeline.subscribers.service import add_subscriber, get_subscriber, sync_lists
from pipeline.subscribers.suppression import is_suppressed

CORPUS = Path(__file__).parent / "corpus"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# file -> (address found, kind)
EXPECTED = {
    "postfix/unknown-local-user.eml": ("ghost@gone.example.com", "hard"),
    "postfix/delayed.eml": ("slow@slow.example.com", "soft"),
    "flufl/dsn_01.eml": ("userx@example.com", "hard"),
    "flufl/dsn_05.eml": ("userx@example.cz", "soft"),
    "flufl/postfix_01.eml": ("xxxxx@local.ie", "hard"),
    "flufl/postfix_04.eml": ("userx@mail1.example.com", "hard"),
    "flufl/exim_01.eml": ("userx@its.example.nl", "hard"),
    "flufl/qmail_01.eml": ("userx@example.de", "hard"),
    "flufl/yahoo_01.eml": ("userx@example.com", "hard"),
    "flufl/aol_01.eml": ("screenname@aol.com", "hard"),
    "flufl/microsoft_01.eml": ("userx@example.com", "hard"),
    "flufl/groupwise_01.eml": ("userx@example.edu", "hard"),
    "flufl/smtp32_01.eml": ("userx@example.ph", "hard"),
    "flufl/llnl_01.eml": ("user1@example.gov", "hard"),
    "flufl/simple_01.eml": ("bbbsss@example.com", "hard"),
    "flufl/simple_03.eml": ("userx@example.za", "soft"),
}


def test_the_corpus_is_listed_in_full() -> None:
    found = {str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.eml")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bounce_is_understood(
    name: str, make_settings: object, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    address, kind = EXPECTED[name]
    box_path = tmp_path / "bounces"
    settings: Settings = make_settings(  # type: ignore[operator]
        **{
            "database.url": db_url,
            "bounces.mailbox": "maildir",
            "bounces.maildir_path": str(box_path),
        }
    )
    sync_lists(engine, settings)
    add_subscriber(engine, address, lists=["beauty-tips"], method="cli", confirmed=True)
    box = mailbox.Maildir(str(box_path), create=True)
    box.add((CORPUS / name).read_bytes())

    report = fetch_bounces(settings, engine, now=NOW)
    assert (report.messages, report.hard, report.soft) == (1, kind == "hard", kind == "soft")
    assert is_suppressed(engine, address) == (kind == "hard")
    person = get_subscriber(engine, email=address)
    assert person is not None and person.status == ("bounced" if kind == "hard" else "active")
    # Flagged as done: a second fetch finds nothing new.
    assert all("S" in m.get_flags() for m in box)
    again = fetch_bounces(settings, engine, now=NOW)
    assert (again.messages, again.hard, again.soft) == (0, 0, 0)
