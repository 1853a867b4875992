"""Property-based requests from the app's own OpenAPI schema (schemathesis): whatever they
send, the app never answers with a server error, and every answer of the public routes is
the one the schema declares (its status code, its content type, its body's schema)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.web.app import create_app

EXAMPLES = 8  # per operation (14 operations): a few seconds per database
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_no_server_errors(web_settings: Settings, engine: Engine, clock: FixedClock) -> None:
    app = create_app(web_settings, engine=engine, clock=clock)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # get_all_operations yields Ok or Err; Err has no ok() and would fail the test here.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 12
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
        def no_server_error(case: schemathesis.Case[Any]) -> None:
            response = case.call()
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
            )

        no_server_error()
        seen.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /webhooks/sendgrid" in seen and "POST /subscribe" in seen


PUBLIC = ("/api/", "/admin")  # the API and the studio have their own schemathesis tests


def test_the_public_routes_answer_as_documented(
    web_settings: Settings, engine: Engine, clock: FixedClock
) -> None:
    """Response-schema conformance ON: an undocumented status code or content type, or a
    JSON body that does not match its schema, fails the test."""
    app = create_app(web_settings, engine=engine, clock=clock)
    raw = app.openapi()
    ids = [op["operationId"] for ops in raw["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))  # GET and HEAD of one route have their own ids
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [
        result.ok()  # type: ignore[union-attr]
        for result in schema.get_all_operations()
        if not result.ok().path.startswith(PUBLIC)  # type: ignore[union-attr]
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
            case.call_and_validate(checks=CHECKS)

        answers_as_documented()
        seen.append(f"{operation.method.upper()} {operation.path}")
    assert {
        "GET /",
        "POST /subscribe",
        "POST /webhooks/sendgrid",
        "HEAD /l/{token}/{index}",
        "GET /o/{name}",
        "POST /unsubscribe/{token}",
        "GET /feed.xml",
    } <= set(seen)
