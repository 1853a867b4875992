from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.errors import CheckFailed, SendError
from pipeline.sending.editions import freeze_edition, get_edition, transition
from pipeline.sending.engine import send_edition
from tests.sending.conftest import add_audience

SLUG = "2026-12-01-microneedling"


def test_freeze_stores_the_build_and_refreezes_until_sending(
    settings: Settings, engine: Engine, project_dir: Path
) -> None:
    add_audience(engine, 1)
    clock = FixedClock()
    eid = freeze_edition(settings, engine, SLUG, clock=clock)
    edition = get_edition(engine, SLUG)
    assert (edition.id, edition.status, edition.lists) == (eid, "frozen", ["beauty-tips"])
    assert edition.subject == "Microneedling, explained: what it is and what to expect"
    assert "unsubscribe_url" in edition.compiled.fields
    assert len(edition.content_hash) == 64
    assert edition.frozen_at == clock.now()
    # Edited and frozen again before sending: same edition, new content.
    issue = project_dir / "issues" / SLUG / "issue.md"
    issue.write_text(issue.read_text().replace("what to expect", "what to know"))
    clock.advance(timedelta(minutes=5))
    send_at = clock.now() + timedelta(days=1)
    assert (
        freeze_edition(settings, engine, SLUG, status="scheduled", send_at=send_at, clock=clock)
        == eid
    )
    again = get_edition(engine, SLUG)
    assert again.subject == "Microneedling, explained: what it is and what to know"
    assert (again.status, again.send_at) == ("scheduled", send_at)
    assert again.content_hash != edition.content_hash
    # Once sending has started, the edition is fixed.
    add_audience(engine, 2, start=1)
    transition(engine, eid, ["scheduled"], "frozen")
    send_edition(settings, engine, eid, clock=clock)
    with pytest.raises(SendError) as err:
        freeze_edition(settings, engine, SLUG, clock=clock)
    assert str(err.value) == (
        f"edition '{SLUG}' is sent and can no longer be changed "
        "(copy the issue to a new folder (a new slug) to send it again)"
    )


def test_freeze_refuses_an_issue_with_check_errors(
    settings: Settings, engine: Engine, project_dir: Path
) -> None:
    article = project_dir / "issues" / SLUG / "articles" / "02-tips.md"
    article.write_text(article.read_text() + "\n![](images/missing.png)\n")
    with pytest.raises(CheckFailed) as err:
        freeze_edition(settings, engine, SLUG)
    assert str(err.value).startswith(f"{SLUG}: ")
    assert str(err.value).endswith(
        f"check error(s) block sending (run 'newsletter issue check {SLUG}' and fix them)"
    )
    assert err.value.findings
    with pytest.raises(SendError):
        get_edition(engine, SLUG)


def test_transition_is_atomic_and_checked(settings: Settings, engine: Engine) -> None:
    add_audience(engine, 1)
    eid = freeze_edition(settings, engine, SLUG)
    assert transition(engine, eid, ["frozen", "scheduled"], "sending")
    assert not transition(engine, eid, ["frozen", "scheduled"], "sending")
    assert transition(engine, eid, ["sending"], "paused", pause_reason="because")
    assert get_edition(engine, SLUG).pause_reason == "because"
    with pytest.raises(ValueError):
        transition(engine, eid, ["paused"], "flying")


def test_get_edition_names_the_fix(engine: Engine) -> None:
    with pytest.raises(SendError) as err:
        get_edition(engine, "nope")
    assert str(err.value) == (
        "no edition 'nope' in the database (run 'newsletter issue send nope' or "
        "'newsletter issue schedule nope')"
    )
