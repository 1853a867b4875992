"""Scheduling an issue: build and check first, honest times, freezing, and later edits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.errors import CheckFailed, ScheduleError
from pipeline.scheduling.plan import (
    files_changed,
    reschedule_issue,
    schedule_issue,
    unschedule_issue,
)
from pipeline.sending.editions import Edition, find_edition, get_edition, transition
from tests.schedule.conftest import AT, BEFORE, DUE, SLUG, add_audience

CLOCK = FixedClock(BEFORE)


@pytest.fixture(autouse=True)
def _someone_to_send_to(settings: Settings, engine: Engine) -> None:
    """Scheduling refuses an edition that would reach nobody (see test_empty_audience.py)."""
    add_audience(engine, settings, 1)


def get_edition_or_none(engine: Engine) -> Edition | None:
    return find_edition(engine, SLUG)


def set_front_matter_send_at(settings: Settings, value: str) -> int:
    """Add ``send_at: value`` to the issue's front matter; return its line."""
    path = settings.issues_dir / SLUG / "issue.md"
    lines = path.read_text().split("\n")
    lines.insert(1, f"send_at: {value}")
    path.write_text("\n".join(lines))
    return 2


def test_schedule_freezes_a_scheduled_edition_in_utc(settings: Settings, engine: Engine) -> None:
    result = schedule_issue(
        settings,
        engine,
        SLUG,
        at="2026-07-01 09:00",
        clock=FixedClock(datetime(2026, 6, 1, tzinfo=UTC)),
    )
    edition = get_edition(engine, SLUG)
    assert edition.status == "scheduled"
    assert edition.send_at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert result.local == "2026-07-01 09:00 BST"
    assert result.source == "--at"
    assert result.lists == ("beauty-tips",)
    assert edition.id == result.edition_id
    assert not files_changed(settings, engine, SLUG)


def test_tz_option_reads_the_time_in_another_zone(settings: Settings, engine: Engine) -> None:
    result = schedule_issue(
        settings, engine, SLUG, at="2026-12-01 09:00", tz_name="America/New_York", clock=CLOCK
    )
    assert result.send_at == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert result.local == "2026-12-01 09:00 EST"


def test_schedule_refuses_the_past(settings: Settings, engine: Engine) -> None:
    with pytest.raises(ScheduleError) as err:
        schedule_issue(settings, engine, SLUG, at="2026-11-20 09:59", clock=CLOCK)
    assert str(err.value) == (
        "2026-11-20 09:59 GMT is in the past: it is now 2026-11-20 10:00 GMT (pick a later time)"
    )
    with pytest.raises(ScheduleError):
        schedule_issue(settings, engine, SLUG, at="2026-11-20 10:00", clock=CLOCK)


def test_schedule_refuses_daylight_saving_gaps_and_overlaps(
    settings: Settings, engine: Engine
) -> None:
    with pytest.raises(ScheduleError) as err:
        schedule_issue(settings, engine, SLUG, at="2027-03-28 01:15", clock=CLOCK)
    assert str(err.value) == (
        "2027-03-28 01:15 does not exist in Europe/London (clocks go forward from 01:00 to "
        "02:00); use 00:59 or 02:00"
    )
    with pytest.raises(ScheduleError) as err:
        schedule_issue(
            settings, engine, SLUG, at="2027-11-07 01:15", tz_name="America/New_York", clock=CLOCK
        )
    assert "happens twice in America/New_York" in str(err.value)
    result = schedule_issue(
        settings,
        engine,
        SLUG,
        at="2027-11-07 01:15",
        tz_name="America/New_York",
        fold="second",
        clock=CLOCK,
    )
    assert result.send_at == datetime(2027, 11, 7, 6, 15, tzinfo=UTC)  # 01:15 EST
    assert result.local == "2027-11-07 01:15 EST"  # shown in the zone it was given in


def test_send_at_from_front_matter(settings: Settings, engine: Engine) -> None:
    set_front_matter_send_at(settings, '"2026-12-01 09:00"')
    result = schedule_issue(settings, engine, SLUG, clock=CLOCK)
    assert result.source == "front matter"
    assert get_edition(engine, SLUG).send_at == DUE


def test_front_matter_time_that_happens_twice_names_file_and_line(
    settings: Settings, engine: Engine
) -> None:
    line = set_front_matter_send_at(settings, "2027-10-31 01:30")
    with pytest.raises(ScheduleError) as err:
        schedule_issue(settings, engine, SLUG, clock=CLOCK)
    assert str(err.value) == (
        f"issues/{SLUG}/issue.md:{line}: send_at: 2027-10-31 01:30 happens twice in "
        "Europe/London (clocks go back from 02:00 to 01:00); write the offset in send_at: "
        "2027-10-31 01:30+01:00 (first, BST) or 2027-10-31 01:30+00:00 (second, GMT)"
    )


def test_no_time_at_all(settings: Settings, engine: Engine) -> None:
    with pytest.raises(ScheduleError) as err:
        schedule_issue(settings, engine, SLUG, clock=CLOCK)
    assert str(err.value) == (
        f"no time given for {SLUG} (add --at '2026-12-01 09:00' or send_at in "
        f"issues/{SLUG}/issue.md)"
    )


def test_check_errors_block_scheduling(settings: Settings, engine: Engine) -> None:
    article = settings.issues_dir / SLUG / "articles" / "01-microneedling.md"
    article.write_text(
        "\n".join(x for x in article.read_text().split("\n") if not x.startswith("image_alt:"))
    )
    with pytest.raises(CheckFailed) as err:
        schedule_issue(settings, engine, SLUG, at=AT, clock=CLOCK)
    codes = {getattr(f, "code", "") for f in err.value.findings}
    assert codes == {"image-alt"}
    assert str(err.value) == (
        f"{SLUG}: {len(err.value.findings)} check error(s) block sending (run "
        f"'newsletter issue check {SLUG}' and fix them)"
    )
    assert get_edition_or_none(engine) is None


def test_schedule_twice_points_to_reschedule(settings: Settings, engine: Engine) -> None:
    schedule_issue(settings, engine, SLUG, at=AT, clock=CLOCK)
    with pytest.raises(ScheduleError) as err:
        schedule_issue(settings, engine, SLUG, at="2026-12-02 09:00", clock=CLOCK)
    assert str(err.value) == (
        f"{SLUG} is already scheduled for 2026-12-01 09:00 GMT (use 'newsletter issue "
        f"reschedule {SLUG} --at ...' to change the time or to freeze edited files again)"
    )


def test_edits_after_scheduling_are_noticed_and_reschedule_freezes_them(
    settings: Settings, engine: Engine
) -> None:
    schedule_issue(settings, engine, SLUG, at=AT, clock=CLOCK)
    before = get_edition(engine, SLUG)
    path = settings.issues_dir / SLUG / "issue.md"
    path.write_text(path.read_text().replace("all about one treatment", "about one treatment"))
    assert files_changed(settings, engine, SLUG)
    assert get_edition(engine, SLUG).content_hash == before.content_hash  # still frozen

    result = reschedule_issue(settings, engine, SLUG, clock=CLOCK)
    after = get_edition(engine, SLUG)
    assert result.source == "kept"
    assert after.send_at == DUE
    assert after.id == before.id
    assert after.content_hash != before.content_hash
    assert not files_changed(settings, engine, SLUG)

    moved = reschedule_issue(settings, engine, SLUG, at="2026-12-03 07:30", clock=CLOCK)
    assert moved.local == "2026-12-03 07:30 GMT"
    assert get_edition(engine, SLUG).send_at == datetime(2026, 12, 3, 7, 30, tzinfo=UTC)


def test_files_changed_without_an_edition_is_false(settings: Settings, engine: Engine) -> None:
    assert not files_changed(settings, engine, SLUG)


def test_reschedule_needs_an_edition(settings: Settings, engine: Engine) -> None:
    with pytest.raises(ScheduleError) as err:
        reschedule_issue(settings, engine, SLUG, clock=CLOCK)
    assert str(err.value) == (
        f"{SLUG} is not scheduled (use 'newsletter issue schedule {SLUG} --at ...')"
    )


def test_unschedule_keeps_the_frozen_edition(settings: Settings, engine: Engine) -> None:
    schedule_issue(settings, engine, SLUG, at=AT, clock=CLOCK)
    unschedule_issue(engine, SLUG)
    edition = get_edition(engine, SLUG)
    assert (edition.status, edition.send_at) == ("frozen", None)
    with pytest.raises(ScheduleError) as err:
        unschedule_issue(engine, SLUG)
    assert str(err.value) == (
        f"{SLUG} is not scheduled (it is frozen) ('newsletter schedule' lists the scheduled "
        "editions)"
    )
    # a frozen edition can be scheduled again
    assert schedule_issue(settings, engine, SLUG, at=AT, clock=CLOCK).refrozen


def test_an_edition_that_started_cannot_be_moved(settings: Settings, engine: Engine) -> None:
    result = schedule_issue(settings, engine, SLUG, at=AT, clock=CLOCK)
    assert transition(engine, result.edition_id, ["scheduled"], "sending")
    attempts: tuple[Callable[[], object], ...] = (
        lambda: schedule_issue(settings, engine, SLUG, at=AT, clock=CLOCK),
        lambda: reschedule_issue(settings, engine, SLUG, clock=CLOCK),
    )
    for attempt in attempts:
        with pytest.raises(ScheduleError) as err:
            attempt()
        assert str(err.value) == (
            f"{SLUG} is sending and can no longer be scheduled (it is being sent; see "
            f"'newsletter issue status {SLUG}')"
        )
    with pytest.raises(ScheduleError) as err:
        unschedule_issue(engine, SLUG)
    assert str(err.value).startswith(f"{SLUG} is not scheduled (it is sending)")


def test_a_failed_reschedule_leaves_the_schedule_as_it_was(
    settings: Settings, engine: Engine
) -> None:
    schedule_issue(settings, engine, SLUG, at=AT, clock=CLOCK)
    before = get_edition(engine, SLUG)
    article = settings.issues_dir / SLUG / "articles" / "01-microneedling.md"
    article.write_text(
        "\n".join(x for x in article.read_text().split("\n") if not x.startswith("image_alt:"))
    )
    with pytest.raises(CheckFailed):
        reschedule_issue(settings, engine, SLUG, at="2026-12-05 09:00", clock=CLOCK)
    after = get_edition(engine, SLUG)
    assert (after.status, after.send_at, after.content_hash) == (
        "scheduled",
        DUE,
        before.content_hash,
    )


def test_front_matter_date_without_a_time_is_refused(settings: Settings, engine: Engine) -> None:
    line = set_front_matter_send_at(settings, "2026-12-01")
    with pytest.raises(ScheduleError) as err:
        schedule_issue(settings, engine, SLUG, clock=CLOCK)
    assert str(err.value) == (
        f"issues/{SLUG}/issue.md:{line}: send_at: 2026-12-01 has no time of day (write a "
        "date and a time, e.g. '2026-12-01 09:00')"
    )


def test_a_send_date_days_from_the_slugs_date_warns(settings: Settings, engine: Engine) -> None:
    far = schedule_issue(settings, engine, SLUG, at="2026-12-04 09:00", clock=CLOCK)
    assert far.warnings == (
        f"{SLUG} is named for 1 December 2026 but is sent on 4 December 2026 (3 days apart);"
        " the email, web version and archive show 4 December 2026: rename the folder or"
        " pick a time with --at",
    )
    assert far.as_dict()["warnings"] == list(far.warnings)
    near = reschedule_issue(settings, engine, SLUG, at="2026-12-02 09:00", clock=CLOCK)
    assert near.warnings == ()
