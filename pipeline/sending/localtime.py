"""Local-time sending: each reader gets the edition at ``send_at_local`` on their own clock.

A reader's zone is the subscriber field ``timezone`` (an IANA name such as
``Europe/London``: Mailchimp's TIMEZONE column on import, the signup form's browser zone,
or ``subscribers set-field``); one that is missing or not a zone known to this machine's
zone database gets the newsletter's zone (``newsletter.timezone``).

When the snapshot is taken, every ledger row gets its zone and its ``not_before`` instant
(``ledger.assign_zones``); ``send-due`` claims only the rows that are due, so one cron
line sends zone after zone. Daylight saving, one rule (``local_instant``):

- a wall-clock time a zone skips (clocks go forward over it) is sent at the first instant
  after the gap, e.g. 02:30 on a day that jumps from 02:00 to 03:00 is sent at 03:00;
- a wall-clock time a zone shows twice (clocks go back) is sent at its first occurrence
  (``fold=0``, the earlier instant).

The edition itself is due (``send_at``) when its earliest zone is: the earliest instant
among the audience's zones and the newsletter's own when it is frozen.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE = timedelta(minutes=1)
LOCAL_FORMAT = "%Y-%m-%d %H:%M"


@functools.lru_cache(maxsize=1024)
def known_zone(name: str | None) -> ZoneInfo | None:
    """The zone called ``name``, or None when it is empty or not a known IANA zone."""
    if not name or len(name) > 64 or name != name.strip():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _skipped(naive: datetime, tz: ZoneInfo) -> bool:
    """True when the zone never shows ``naive`` (it falls in a gap)."""
    back = naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return back != naive


def local_instant(naive: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the wall-clock time ``naive`` in ``tz``: a skipped time moves
    forward to the first valid instant after the gap, a repeated time is its first
    occurrence (``fold=0``)."""
    when = naive.replace(second=0, microsecond=0, fold=0)
    if _skipped(when, tz):
        later = when
        for _ in range(48 * 60):  # the longest gap on record is a day (Samoa, 2011)
            later += MINUTE
            if not _skipped(later, tz):
                break
        return later.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return when.replace(tzinfo=tz, fold=0).astimezone(UTC)


def parse_local(text: str) -> datetime:
    return datetime.strptime(text, LOCAL_FORMAT)


def earliest(naive: datetime, zones: Iterable[str]) -> datetime:
    """The first instant any of ``zones`` reaches ``naive`` (unknown zones are ignored)."""
    instants = [local_instant(naive, tz) for z in zones if (tz := known_zone(z)) is not None]
    if not instants:
        raise ValueError("no known time zone")
    return min(instants)
