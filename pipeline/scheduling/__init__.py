"""Scheduled sending: one stage, imported module by module (no facade).

timeparse   local times in the newsletter's zone; daylight-saving gaps and overlaps
plan        schedule / reschedule / unschedule an issue; files_changed
due         send_due: claim due editions, mark missed ones, resume interrupted sends
runs        one row per send-due run (is cron alive?)
listing     the schedule as `newsletter schedule` shows it
cronline    a ready crontab line and systemd units
digest      the recurring digest: draft from the feed inbox, check, schedule
logs        text and JSON-lines log formats
"""
