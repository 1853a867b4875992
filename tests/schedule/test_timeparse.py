"""Reading schedule times: plain local times, offsets, and daylight-saving boundaries."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.errors import ScheduleError
from pipeline.scheduling.timeparse import (
    format_duration,
    format_local,
    from_value,
    parse_when,
    zone,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
CLI = "add --fold first|second or write the offset"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-12-01 09:00", LONDON, utc(2026, 12, 1, 9, 0)),  # GMT
        ("2026-07-01 09:00", LONDON, utc(2026, 7, 1, 8, 0)),  # BST
        ("2026-07-01T09:00:30", LONDON, utc(2026, 7, 1, 8, 0, 30)),
        ("2026-12-01 9:05", NEW_YORK, utc(2026, 12, 1, 14, 5)),  # EST
        ("2026-07-01 09:00", NEW_YORK, utc(2026, 7, 1, 13, 0)),  # EDT
        ("2026-07-01 09:00+02:00", LONDON, utc(2026, 7, 1, 7, 0)),  # the offset wins
        ("2026-07-01 09:00Z", NEW_YORK, utc(2026, 7, 1, 9, 0)),
        ("  2026-07-01 09:00-0430 ", LONDON, utc(2026, 7, 1, 13, 30)),
    ],
)
def test_plain_times_and_offsets(text: str, tz: ZoneInfo, expected: datetime) -> None:
    assert parse_when(text, tz) == expected


# ---- spring forward: local times that do not exist --------------------------------------
@pytest.mark.parametrize(
    ("text", "tz", "message"),
    [
        (
            "2026-03-29 01:30",
            LONDON,
            "2026-03-29 01:30 does not exist in Europe/London (clocks go forward from 01:00 "
            "to 02:00); use 00:59 or 02:00",
        ),
        (
            "2026-03-29 01:00",
            LONDON,
            "2026-03-29 01:00 does not exist in Europe/London (clocks go forward from 01:00 "
            "to 02:00); use 00:59 or 02:00",
        ),
        (
            "2026-03-08 02:30",
            NEW_YORK,
            "2026-03-08 02:30 does not exist in America/New_York (clocks go forward from "
            "02:00 to 03:00); use 01:59 or 03:00",
        ),
    ],
)
def test_spring_forward_gap_is_refused(text: str, tz: ZoneInfo, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_when(text, tz)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-03-29 00:59", LONDON, utc(2026, 3, 29, 0, 59)),
        ("2026-03-29 02:00", LONDON, utc(2026, 3, 29, 1, 0)),
        ("2026-03-08 01:59", NEW_YORK, utc(2026, 3, 8, 6, 59)),
        ("2026-03-08 03:00", NEW_YORK, utc(2026, 3, 8, 7, 0)),
    ],
)
def test_the_offered_choices_around_a_gap_work(text: str, tz: ZoneInfo, expected: datetime) -> None:
    assert parse_when(text, tz) == expected


# ---- fall back: local times that happen twice -------------------------------------------
@pytest.mark.parametrize(
    ("text", "tz", "message"),
    [
        (
            "2026-10-25 01:30",
            LONDON,
            "2026-10-25 01:30 happens twice in Europe/London (clocks go back from 02:00 to "
            f"01:00); {CLI}: 2026-10-25 01:30+01:00 (first, BST) or "
            "2026-10-25 01:30+00:00 (second, GMT)",
        ),
        (
            "2026-11-01 01:00",
            NEW_YORK,
            "2026-11-01 01:00 happens twice in America/New_York (clocks go back from 02:00 "
            f"to 01:00); {CLI}: 2026-11-01 01:00-04:00 (first, EDT) or "
            "2026-11-01 01:00-05:00 (second, EST)",
        ),
    ],
)
def test_fall_back_overlap_is_refused(text: str, tz: ZoneInfo, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_when(text, tz)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("text", "tz", "first", "second"),
    [
        ("2026-10-25 01:30", LONDON, utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)),
        ("2026-11-01 01:30", NEW_YORK, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)),
    ],
)
def test_fold_or_offset_picks_one_of_the_two(
    text: str, tz: ZoneInfo, first: datetime, second: datetime
) -> None:
    assert parse_when(text, tz, fold="first") == first
    assert parse_when(text, tz, fold="second") == second
    offsets = [first.astimezone(tz).strftime("%z"), second.astimezone(tz).strftime("%z")]
    assert parse_when(text + offsets[0], tz) == first
    assert parse_when(text + offsets[1], tz) == second


def test_times_just_outside_the_overlap_are_fine() -> None:
    assert parse_when("2026-10-25 00:59", LONDON) == utc(2026, 10, 24, 23, 59)
    assert parse_when("2026-10-25 02:00", LONDON) == utc(2026, 10, 25, 2, 0)
    assert parse_when("2026-11-01 02:00", NEW_YORK) == utc(2026, 11, 1, 7, 0)


def test_front_matter_values_get_front_matter_advice() -> None:
    advice = "write the offset in send_at"
    with pytest.raises(ScheduleError) as err:
        from_value(datetime(2026, 10, 25, 1, 30), LONDON, how_to_choose=advice)
    assert str(err.value).endswith(
        f"; {advice}: 2026-10-25 01:30+01:00 (first, BST) or 2026-10-25 01:30+00:00 (second, GMT)"
    )
    aware = datetime.fromisoformat("2026-10-25 01:30+00:00")
    assert from_value(aware, LONDON, how_to_choose=advice) == utc(2026, 10, 25, 1, 30)
    assert from_value("2026-12-01 09:00", LONDON, how_to_choose=advice) == utc(2026, 12, 1, 9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "next tuesday",
            "cannot read 'next tuesday' as a date and time (write it like '2026-12-01 09:00', "
            "or with an offset like '2026-12-01 09:00+01:00')",
        ),
        (
            "2026-02-30 09:00",
            "cannot read '2026-02-30 09:00' as a date and time (write it like "
            "'2026-12-01 09:00', or with an offset like '2026-12-01 09:00+01:00')",
        ),
        (
            "2026-12-01",
            "cannot read '2026-12-01' as a date and time (write it like '2026-12-01 09:00', "
            "or with an offset like '2026-12-01 09:00+01:00')",
        ),
    ],
)
def test_unreadable_times(text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_when(text, LONDON)
    assert str(err.value) == message


def test_unknown_zone() -> None:
    with pytest.raises(ScheduleError) as err:
        zone("Mars/Olympus")
    assert str(err.value) == (
        "unknown time zone 'Mars/Olympus' (use an IANA name such as 'Europe/London' or "
        "'America/New_York')"
    )


def test_formatting() -> None:
    assert format_local(utc(2026, 7, 1, 8, 0), LONDON) == "2026-07-01 09:00 BST"
    assert format_local(utc(2026, 12, 1, 14, 5), NEW_YORK) == "2026-12-01 09:05 EST"
    assert format_local(None, LONDON) == ""
    assert format_duration(utc(2026, 12, 3, 13) - utc(2026, 12, 1, 9)) == "2 days 4 h"
    assert format_duration(utc(2026, 12, 1, 12, 5) - utc(2026, 12, 1, 9)) == "3 h 5 min"
    assert format_duration(utc(2026, 12, 1, 9, 0, 45) - utc(2026, 12, 1, 9)) == "45 s"
