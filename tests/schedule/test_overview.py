"""Where each issue stands (scheduling.overview): the web reads it through its engine, `issue
list` through the SQLite reader without SQLAlchemy; both give the same states."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.content.issues import new_issue
from pipeline.editorial.review import approve, submit
from pipeline.render.personalise import compile_edition
from pipeline.scheduling.overview import issue_states
from pipeline.sending.editions import store_edition, transition
from pipeline.store.reader import EngineReader, SQLiteReader, open_current
from pipeline.store.tables import deliveries, subscribers
from tests.schedule.conftest import SLUG, add_audience

SCHEDULED, SENDING, SENT, REVIEWED = (
    "2027-01-10-winter",
    "2027-02-14-serums",
    "2027-03-01-spf",
    "2027-04-01-spring",
)


def _edition(engine: Engine, slug: str, to: str, **fields: object) -> int:
    compiled = compile_edition(f"Issue {slug}", "<p>Hello</p>", "Hello")
    edition_id = store_edition(engine, slug, compiled, lists=["beauty-tips"], content_hash="0" * 64)
    assert transition(engine, edition_id, ["frozen"], to, **fields)
    return edition_id


def test_the_engine_and_the_reader_see_the_same_states(settings: Settings, engine: Engine) -> None:
    clock = FixedClock(datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    for slug in (SCHEDULED, SENDING, SENT, REVIEWED):
        new_issue(settings, slug, subject=f"About {slug}", preheader="Hi.", intro_md="Hello.")
    _edition(engine, SCHEDULED, "scheduled", send_at=datetime(2027, 1, 10, 9, 0, tzinfo=UTC))
    sending = _edition(engine, SENDING, "sending")
    add_audience(engine, settings, 4)
    with engine.begin() as conn:
        ids = list(conn.execute(select(subscribers.c.id, subscribers.c.email)))
        conn.execute(
            insert(deliveries),
            [
                {"edition_id": sending, "subscriber_id": sid, "email": email, "status": status}
                for (sid, email), status in zip(
                    ids, ["sent", "failed", "pending", "pending"], strict=True
                )
            ],
        )
    _edition(engine, SENT, "sent", finished_at=datetime(2027, 3, 1, 8, 30, 5, 123456, tzinfo=UTC))
    submit(settings, engine, REVIEWED, "Ada", clock=clock)
    approve(settings, engine, REVIEWED, "Grace", clock=clock)

    reader = open_current(settings.database_url)
    if engine.dialect.name == "sqlite":
        assert isinstance(reader, SQLiteReader)  # what `issue list` reads through
    by_engine = issue_states(settings, engine)
    assert issue_states(settings, reader or EngineReader(engine)) == by_engine
    assert {s.summary.slug: s.label for s in by_engine} == {
        REVIEWED: "approved",
        SENT: "sent 2027-03-01 08:30",  # Europe/London is on UTC in winter
        SENDING: "sending 50%",  # sent and failed are done, 2 of 4
        SCHEDULED: "scheduled 2027-01-10 09:00",
        SLUG: "draft",
    }
    review = next(s.review for s in by_engine if s.summary.slug == REVIEWED)
    assert review is not None and review.approved_by == "Grace"
    assert [e.action for e in review.log] == ["submitted", "approved"]
