"""Background CSV imports: the progress and outcome on disk, a refusal as a failed job."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.errors import SubscriberError
from pipeline.subscribers import service
from pipeline.subscribers.importjobs import import_status, start_import
from pipeline.subscribers.service import sync_lists


def finished(settings: Settings, job: str) -> dict[str, Any]:
    for _ in range(400):  # the import runs in a thread: follow it
        status = import_status(settings, job)
        if status["state"] != "running":
            return status
        threading.Event().wait(0.025)
    raise AssertionError("the import did not finish")


def test_an_import_runs_in_the_background(settings: Settings, engine: Engine) -> None:
    sync_lists(engine, settings)
    rows = "".join(f"p{n}@example.com,Person {n}\n" for n in range(300))
    job = start_import(settings, engine, f"email,name\n{rows}".encode(), lists=["news"])
    status = finished(settings, job)
    assert status["state"] == "done", status
    assert status["report"]["added"] == 300
    info = service.get_subscriber(engine, email="p7@example.com")
    assert info is not None and info.subscriptions == {"news": "confirmed"}
    files = sorted(p.name for p in (settings.var_dir / "imports").iterdir())
    assert f"{job}.csv" in files and (settings.var_dir / "imports").stat().st_mode & 0o077 == 0


def test_a_refused_import_is_a_failed_job(settings: Settings, engine: Engine) -> None:
    job = start_import(settings, engine, b"email\nsomeone@example.com\n")  # which list?
    status = finished(settings, job)
    assert status["state"] == "failed" and "which lists?" in status["error"]
    with pytest.raises(SubscriberError):
        start_import(settings, engine, b"  \n")
    with pytest.raises(SubscriberError):
        import_status(settings, "../../newsletter")
