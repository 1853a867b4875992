"""Reading the time an editor writes, in the newsletter's time zone, honestly.

A local time is refused when the clocks skip it (spring forward) or show it twice (fall
back), with a message that offers the valid choices:

    >>> from zoneinfo import ZoneInfo
    >>> parse_when("2026-12-01 09:00", ZoneInfo("Europe/London")).isoformat()
    '2026-12-01T09:00:00+00:00'

Everything returned is an aware datetime in UTC; ``format_local`` shows it back in a zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import ScheduleError

Fold = Literal["first", "second"]
MINUTE = timedelta(minutes=1)

_WHEN = re.compile(
    r"^\s*(?P<date>\d{4}-\d{2}-\d{2})[ T]+(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?"
    r"\s*(?P<off>Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
EXAMPLE = "2026-12-01 09:00"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ScheduleError with a hint when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone {name!r}",
            fix="use an IANA name such as 'Europe/London' or 'America/New_York'",
        ) from None


def _offset(text: str) -> timezone:
    if text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if delta >= timedelta(hours=24):
        raise ValueError(text)
    return timezone(sign * delta)


def parse_text(text: str) -> datetime:
    """``"2026-12-01 09:00"`` (naive) or ``"2026-12-01 09:00+01:00"`` (aware) as a datetime."""
    found = _WHEN.match(text)
    try:
        if found is None:
            raise ValueError(text)
        day = date.fromisoformat(found["date"])
        naive = datetime(
            day.year, day.month, day.day, int(found["h"]), int(found["m"]), int(found["s"] or 0)
        )
        return naive.replace(tzinfo=_offset(found["off"])) if found["off"] else naive
    except ValueError:
        raise ScheduleError(
            f"cannot read {text!r} as a date and time",
            fix=f"write it like '{EXAMPLE}', or with an offset like '{EXAMPLE}+01:00'",
        ) from None


def _hm(value: datetime) -> str:
    return value.strftime("%H:%M")


def _offset_text(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _stamp(naive: datetime) -> str:
    return naive.strftime("%Y-%m-%d %H:%M" + (":%S" if naive.second else ""))


def _in_gap(naive: datetime, tz: tzinfo) -> bool:
    early = naive.replace(tzinfo=tz, fold=0).utcoffset()
    late = naive.replace(tzinfo=tz, fold=1).utcoffset()
    return early is not None and late is not None and early < late


def _twice(naive: datetime, tz: tzinfo) -> bool:
    early = naive.replace(tzinfo=tz, fold=0).utcoffset()
    late = naive.replace(tzinfo=tz, fold=1).utcoffset()
    return early is not None and late is not None and early > late


def resolve_local(
    naive: datetime,
    tz: tzinfo,
    *,
    fold: Fold | None = None,
    how_to_choose: str = "add --fold first|second or write the offset",
) -> datetime:
    """The UTC instant of the wall-clock time ``naive`` in ``tz``.

    Refuses a time the clocks skip, and (unless ``fold`` says which) a time they show twice.
    ``how_to_choose`` is the advice for a repeated time (the CLI's, or the front matter's).
    """
    name = str(tz)
    when = naive.replace(microsecond=0)
    if _in_gap(when, tz):
        start = when.replace(second=0)
        while _in_gap(start - MINUTE, tz):
            start -= MINUTE
        early = start.replace(tzinfo=tz, fold=0).utcoffset() or timedelta(0)
        late = start.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
        end = start + (late - early)
        raise ScheduleError(
            f"{_stamp(when)} does not exist in {name} (clocks go forward from {_hm(start)}"
            f" to {_hm(end)}); use {_hm(start - MINUTE)} or {_hm(end)}"
        )
    if _twice(when, tz):
        if fold is not None:
            chosen = when.replace(tzinfo=tz, fold=0 if fold == "first" else 1)
            return chosen.astimezone(UTC)
        end = when.replace(second=0) + MINUTE
        while _twice(end, tz):
            end += MINUTE
        first = when.replace(tzinfo=tz, fold=0)
        second = when.replace(tzinfo=tz, fold=1)
        back = (first.utcoffset() or timedelta(0)) - (second.utcoffset() or timedelta(0))
        raise ScheduleError(
            f"{_stamp(when)} happens twice in {name} (clocks go back from {_hm(end)}"
            f" to {_hm(end - back)}); {how_to_choose}: "
            f"{_stamp(when)}{_offset_text(first.utcoffset())} (first, {first.tzname()}) or "
            f"{_stamp(when)}{_offset_text(second.utcoffset())} (second, {second.tzname()})"
        )
    return when.replace(tzinfo=tz).astimezone(UTC)


def parse_when(
    text: str,
    tz: tzinfo,
    *,
    fold: Fold | None = None,
    how_to_choose: str = "add --fold first|second or write the offset",
) -> datetime:
    """Parse ``text`` as a time in ``tz`` (unless it carries an offset); return UTC."""
    value = parse_text(text)
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    return resolve_local(value, tz, fold=fold, how_to_choose=how_to_choose)


def from_value(value: datetime | date | str, tz: tzinfo, *, how_to_choose: str) -> datetime:
    """A ``send_at`` from front matter (text, or a datetime YAML already read) in UTC."""
    if isinstance(value, str):
        return parse_when(value, tz, how_to_choose=how_to_choose)
    if not isinstance(value, datetime):
        raise ScheduleError(
            f"{value} has no time of day",
            fix=f"write a date and a time, e.g. '{EXAMPLE}'",
        )
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    return resolve_local(value, tz, how_to_choose=how_to_choose)


def format_local(when: datetime | None, tz: tzinfo, *, seconds: bool = False) -> str:
    """``2026-12-01 09:00 GMT``: an instant shown on the newsletter's wall clock."""
    if when is None:
        return ""
    local = when.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "") + " %Z")


def format_duration(delta: timedelta) -> str:
    """``3 h 5 min``, ``2 days 4 h``, ``45 s``: a lateness or a wait, for people."""
    total = int(abs(delta).total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"
