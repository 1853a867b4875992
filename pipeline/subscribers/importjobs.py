"""CSV imports that run in the background, with their progress readable from anywhere: the
studio starts one and its page follows it.

    job = start_import(settings, engine, data, lists=["news"])   # returns at once
    import_status(settings, job)   # {"state": "running", "done": 1200, "total": 80000}
                                   # then {"state": "done", "report": {...}} or "failed"

The file and its status (``var/imports/<job>.csv`` and ``.json``, private) live on disk, so
every web worker of the machine reads the same progress. The import itself is
``importing.import_subscribers``, exactly as ``newsletter subscribers import`` runs it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.errors import NewsletterError, SubscriberError
from pipeline.private import private_dir
from pipeline.subscribers.importing import import_subscribers

_JOB = re.compile(r"^[0-9a-f]{16}$")
#: Write the progress after at least this many more bytes were read.
STEP = 64 * 1024


def _folder(settings: Settings) -> Path:
    return private_dir(settings.var_dir / "imports")


def _write(path: Path, status: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status), encoding="utf-8")
    os.replace(tmp, path)


def run_import(settings: Settings, engine: Engine, job: str, lists: Sequence[str] | None) -> None:
    """Import the job's file, writing its progress and then its outcome."""
    folder = _folder(settings)
    status = folder / f"{job}.json"
    last = [-STEP]

    def progress(done: int, total: int) -> None:
        if done - last[0] >= STEP or done >= total:
            last[0] = done
            _write(status, {"state": "running", "done": done, "total": total})

    try:
        report = import_subscribers(
            engine, folder / f"{job}.csv", lists=list(lists or ()) or None, progress=progress
        )
    except NewsletterError as exc:
        _write(status, {"state": "failed", "error": str(exc)})
    except Exception as exc:  # a bug: say so on the page, keep the traceback in the log
        _write(status, {"state": "failed", "error": f"the import stopped: {exc}"})
        raise
    else:
        _write(status, {"state": "done", "report": report.as_dict()})


def start_import(
    settings: Settings, engine: Engine, data: bytes, *, lists: Sequence[str] | None = None
) -> str:
    """Store ``data`` (a CSV file) and import it in a background thread; returns the job."""
    if not data.strip():
        raise SubscriberError("the CSV file is empty", fix="choose the exported file")
    job = secrets.token_hex(8)
    folder = _folder(settings)
    (folder / f"{job}.csv").write_bytes(data)
    os.chmod(folder / f"{job}.csv", 0o600)
    _write(folder / f"{job}.json", {"state": "running", "done": 0, "total": len(data)})
    thread = threading.Thread(
        target=run_import, args=(settings, engine, job, list(lists or ())), daemon=True
    )
    thread.start()
    return job


def import_status(settings: Settings, job: str) -> dict[str, Any]:
    """The job's progress or outcome; SubscriberError for a job that does not exist."""
    path = settings.var_dir / "imports" / f"{job}.json"
    if not _JOB.match(job) or not path.is_file():
        raise SubscriberError("no such import", fix="start the import again")
    status: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if status.get("state") == "running" and status.get("total"):
        status["percent"] = min(100, 100 * int(status["done"]) // int(status["total"]))
    return status
