"""Property-based requests to the API from the app's own OpenAPI schema (schemathesis),
with an admin token: whatever they send, no server error, and every answer matches the
schema (its status code is documented, its content type and body are the documented
ones); the token is really checked (``ignored_auth``)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from pipeline.accounts.apitokens import create_token
from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.subscribers import service
from pipeline.web.app import create_app

EXAMPLES = 10  # per operation
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]


def test_the_api_answers_as_documented(
    web_settings: Settings, engine: Engine, clock: FixedClock
) -> None:
    app = create_app(web_settings, engine=engine, clock=clock)
    token = create_token(engine, "schemathesis", "admin")
    service.add_subscriber(
        engine, "known@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [
        result.ok()  # type: ignore[union-attr]
        for result in schema.get_all_operations()
        if result.ok().path.startswith("/api/")  # type: ignore[union-attr]
    ]
    seen: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        answers_as_documented()
        seen.append(f"{operation.method.upper()} {operation.path}")
    assert {
        "GET /api/v1/issues",
        "POST /api/v1/issues/{slug}/approve",
        "POST /api/v1/subscribers",
        "DELETE /api/v1/subscribers/{email}",
        "POST /api/v1/imports",
        "GET /api/v1/stats",
    } <= set(seen)
