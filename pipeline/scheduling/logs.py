"""Log formats for `send-due` under cron: plain text lines, or JSON lines for machines.

Stages log to ``pipeline.scheduling`` with ``extra={"fields": {...}}``; the JSON formatter
puts those fields next to the message, one object per line:

    {"time": "2026-12-01T09:00:02.113Z", "level": "info", "event": "sent",
     "message": "sent 2026-12-01-x: 400 sent by this run, 400 in all", "slug": ...}
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


def _time(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, event, message, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(getattr(record, "fields", None) or {})
        data: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": fields.pop("event", "log"),
            "message": record.getMessage(),
        }
        data.update(fields)
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-12-01T09:00:02.113Z INFO sent 2026-12-01-x: ...`` (for log files)."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_time(record)} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class MessageFormatter(logging.Formatter):
    """Just the message (for a person at a terminal)."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def formatter(kind: str) -> logging.Formatter:
    """``json`` or ``text``."""
    return JsonFormatter() if kind == "json" else TextFormatter()
