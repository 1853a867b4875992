"""Feeds: RSS and Atom sources fetched into an inbox of articles that issues are drafted from.

sources.py   the feeds table (add, list, remove, sync from newsletter.toml)
fetch.py     HTTP(S), file:// and local paths: bounded, capped, conditional
parse.py     feedparser on the bytes -> FeedEntry values with sanitised HTML
sanitize.py  the email-safe HTML allowlist (nh3)
inbox.py     storing entries with de-duplication; listing and marking them used
refresh.py   fetch + parse + store for every feed, one failure never stopping the rest
draft.py     an issue folder drafted from unused inbox entries
(the recurring digest, which drafts and then schedules, lives in pipeline.scheduling.digest)
"""
