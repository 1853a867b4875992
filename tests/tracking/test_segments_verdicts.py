"""Engagement segments count people only: a machine's open or click (the tracking stage's
verdict) does not make anyone "opened within N days"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from pipeline.config import Settings
from pipeline.store.tables import subscribers
from pipeline.subscribers.segments import segment_where
from pipeline.tracking.classify import HUMAN, Verdict
from pipeline.tracking.record import Hit, write_hits
from tests.tracking.test_record import SENT, edition_with


def test_opened_within_counts_human_opens_only(settings: Settings, engine: Engine) -> None:
    eid, (person, proxy, nobody) = edition_with(engine, 3)
    later = SENT + timedelta(hours=3)
    write_hits(
        settings,
        engine,
        [
            Hit("open", person, eid, None, later, HUMAN),
            Hit("open", proxy, eid, None, later, Verdict("machine", "apple_proxy")),
        ],
    )
    for condition in ("opened within 30 days", "not opened within 30 days"):
        where = segment_where(condition, now=SENT + timedelta(days=1), dialect=engine.dialect.name)
        with engine.connect() as conn:
            chosen = set(conn.execute(select(subscribers.c.id).where(where)).scalars())
        expected = {person} if condition.startswith("opened") else {proxy, nobody}
        assert chosen == expected, condition
