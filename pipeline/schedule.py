"""Scheduled sending, the public API (the parts live in ``pipeline.scheduling``).

schedule_issue(settings, engine, slug, at=..., tz_name=..., fold=..., clock=...)
reschedule_issue(...), unschedule_issue(engine, slug)
send_due(settings, engine, clock=..., include_late=False) -> DueReport
list_schedule(settings, engine, clock=...) -> ScheduleListing
files_changed(settings, engine, slug) -> bool   (for `issue status`)
parse_when(text, tz, fold=None) -> datetime (UTC)
"""

from __future__ import annotations

from pipeline.scheduling.cronline import CronPlan, cron_line, systemd_units
from pipeline.scheduling.due import DueReport, EditionOutcome, send_due, worker_name
from pipeline.scheduling.listing import ScheduleEntry, ScheduleListing, list_schedule
from pipeline.scheduling.plan import (
    Scheduled,
    files_changed,
    front_matter_send_at,
    reschedule_issue,
    schedule_issue,
    unschedule_issue,
)
from pipeline.scheduling.runs import SendRun, last_run
from pipeline.scheduling.timeparse import format_local, parse_when

__all__ = [
    "CronPlan",
    "DueReport",
    "EditionOutcome",
    "ScheduleEntry",
    "ScheduleListing",
    "Scheduled",
    "SendRun",
    "cron_line",
    "files_changed",
    "format_local",
    "front_matter_send_at",
    "last_run",
    "list_schedule",
    "parse_when",
    "reschedule_issue",
    "schedule_issue",
    "send_due",
    "systemd_units",
    "unschedule_issue",
    "worker_name",
]
