"""One date per issue: the rule the email, the web version and the archive all follow.

An issue's date is the day, in the newsletter's time zone (``newsletter.timezone``), of

1. its edition's send time once it is frozen to be sent: the scheduled time (``send_at``)
   when it was scheduled, otherwise the moment ``issue send`` froze it;
2. before that (previews, ``issue build``): ``send_at`` in the issue's front matter;
3. before that: the date the slug starts with (``2026-12-01-winter-care``);
4. otherwise there is no date (the header shows none).

    send_time(send_at, frozen_at)          -> the edition's send time (UTC)
    issue_day(tz, sent=..., send_at=..., slug=...) -> date | None
    format_day(day)                        -> "1 December 2026"
    slug_day(slug)                         -> the slug's leading date, or None

The email's ``Date`` header is written in the same time zone (pipeline.sending.mime), so its
day is the issue's date for an edition sent when it was due. ``schedule_warnings`` is the
scheduling stage's check that a slug's date and the send date agree.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo

_DATED = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?!\d)")

#: Days a slug's date may differ from the send date before scheduling warns.
SLUG_DAYS_TOLERANCE = 1


def slug_day(slug: str) -> date | None:
    """The date a slug starts with (YYYY-MM-DD...), or None."""
    found = _DATED.match(slug)
    if not found:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None


def send_time(send_at: datetime | None, frozen_at: datetime) -> datetime:
    """An edition's send time: its scheduled time, else when it was frozen to be sent."""
    return send_at if send_at is not None else frozen_at


def issue_day(
    tz: tzinfo,
    *,
    sent: datetime | None = None,
    send_at: datetime | None = None,
    slug: str = "",
) -> date | None:
    """The issue's date by the rule above: ``sent`` is the edition's send time (see
    ``send_time``), ``send_at`` the front matter's, ``slug`` the issue's folder name."""
    for when in (sent, send_at):
        if when is not None:
            return when.astimezone(tz).date()
    return slug_day(slug)


def format_day(day: date | None) -> str:
    """The date as every face shows it: "1 December 2026" ("" for none)."""
    return f"{day.day} {day:%B %Y}" if day else ""


def schedule_warnings(slug: str, send_at: datetime, tz: tzinfo) -> list[str]:
    """A warning when the slug's date is more than a day away from the send date."""
    named = slug_day(slug)
    if named is None:
        return []
    sending = send_at.astimezone(tz).date()
    apart = abs((sending - named).days)
    if apart <= SLUG_DAYS_TOLERANCE:
        return []
    return [
        f"{slug} is named for {format_day(named)} but is sent on {format_day(sending)}"
        f" ({apart} days apart); the email, web version and archive show"
        f" {format_day(sending)}: rename the folder or pick a time with --at"
    ]
