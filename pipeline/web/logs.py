"""Token URLs never reach the logs.

Links in emails carry signed tokens in their path (``/unsubscribe/{token}``,
``/confirm/{token}``, ``/preferences/{token}``, ``/l/{token}/{index}``, ``/o/{token}.gif``):
whoever reads the access log could otherwise act as every subscriber. ``redact_path``
replaces the token segment with ``[token]``; ``TokenRedactor`` is a logging filter that does
it to uvicorn's access log lines, and the app installs it (``install``) when it starts.
"""

from __future__ import annotations

import logging
import re

MARKER = "[token]"

#: The first path segment after one of these prefixes is a token.
TOKEN_PATH = re.compile(r"^(/(?:unsubscribe|confirm|preferences|l|o)/)[^/?#]+")

#: uvicorn's access logger; its records' args are
#: (client address, method, path with query, HTTP version, status code).
ACCESS_LOGGER = "uvicorn.access"


def redact_path(path: str) -> str:
    """``path`` with its token segment (if any) replaced by the marker."""
    return TOKEN_PATH.sub(lambda m: m.group(1) + MARKER, path, count=1)


class TokenRedactor(logging.Filter):
    """Rewrites the path of access log records; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


_REDACTOR = TokenRedactor()


def install() -> None:
    """Add the filter to uvicorn's access logger (idempotent; call after uvicorn has set
    up its logging, e.g. at application start-up)."""
    logging.getLogger(ACCESS_LOGGER).addFilter(_REDACTOR)
