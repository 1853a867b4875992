"""Property-based requests from the app's own OpenAPI schema (schemathesis): whatever they
send, the app never answers with a server error."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.web.app import create_app

EXAMPLES = 8  # per operation (14 operations): a few seconds per database


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
