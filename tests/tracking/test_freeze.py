"""Freezing an issue indexes its links and stores the link table; the issue's UTM tags
override the newsletter's; welcome and confirmation emails are never tracked."""

from __future__ import annotations

from sqlalchemy import Engine, select

from pipeline.config import Settings
from pipeline.sending.editions import freeze_edition, get_edition
from pipeline.store.tables import edition_links
from pipeline.tracking.links import is_tracked
from tests.sending.conftest import add_audience

SLUG = "2026-12-01-microneedling"


def test_freezing_stores_the_link_table_with_the_issues_utm_tags(
    settings: Settings, engine: Engine
) -> None:
    issue = settings.issues_dir / SLUG / "issue.md"
    text = issue.read_text().replace("---\n\n", "utm_campaign: winter-glow\n---\n\n", 1)
    issue.write_text(text + "\n\n[Shop the serum](https://shop.example.com/serum)\n")
    add_audience(engine, 1)  # an edition for nobody is refused (issue 10)
    edition_id = freeze_edition(settings, engine, SLUG)
    with engine.connect() as conn:
        rows = conn.execute(
            select(edition_links.c.link_index, edition_links.c.url, edition_links.c.kind)
            .where(edition_links.c.edition_id == edition_id)
            .order_by(edition_links.c.link_index)
        ).all()
    found = [tuple(r) for r in rows]
    # index 0 is the hidden honeypot; the sample's own links (products, social) follow, and
    # every link carries the issue's campaign without losing the tags it had
    assert found[0] == (0, f"{settings.newsletter.base_url}/", "honeypot")
    assert [index for index, _, _ in found] == list(range(len(found)))
    serum = (
        "https://shop.example.com/serum?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=winter-glow"
    )
    assert [(url, kind) for _, url, kind in found].count((serum, "link")) == 1
    assert all("utm_campaign=winter-glow" in url for _, url, kind in found if kind == "link")
    assert is_tracked(get_edition(engine, SLUG).compiled)
    # frozen again (a change before sending): the table is replaced, not added to
    freeze_edition(settings, engine, SLUG)
    with engine.connect() as conn:
        assert len(conn.execute(select(edition_links.c.link_index)).all()) == len(found)


def test_nothing_is_tracked_when_tracking_is_off(
    make_settings: object, db_url: str, engine: Engine
) -> None:
    settings: Settings = make_settings(  # type: ignore[operator]
        **{"database.url": db_url, "tracking.opens": False, "tracking.clicks": False}
    )
    add_audience(engine, 1)  # an edition for nobody is refused (issue 10)
    edition_id = freeze_edition(settings, engine, SLUG)
    assert not is_tracked(get_edition(engine, SLUG).compiled)
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(edition_links).where(edition_links.c.edition_id == edition_id)
            ).all()
            == []
        )
