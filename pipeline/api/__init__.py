"""The HTTP API, under ``/api/v1``, for programs: issues (list, get, check, submit,
approve, reject, schedule, unschedule, figures), stats, subscribers (create, get, update, tag,
unsubscribe, erase) and imports. docs/developers/api.md shows each with curl.

Every route needs a bearer token (``newsletter tokens create``; ``common.api_account`` is
a dependency of the whole router, so a route added later is protected too) and answers
JSON, errors included (``{"error": "..."}``). The routes call the stages; what a token
does is in the audit log. The OpenAPI schema is the app's, at ``/openapi.json``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from pipeline.api import issues, stats, subscribers
from pipeline.api.common import ApiError, api_account, api_error, validation_error

PREFIX = "/api/v1"

router = APIRouter(prefix=PREFIX, dependencies=[Depends(api_account)])
for module in (issues, stats, subscribers):
    router.include_router(module.router)

__all__ = ["PREFIX", "ApiError", "api_error", "router", "validation_error"]
