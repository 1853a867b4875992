"""An import killed with SIGKILL in the middle of a batch leaves the batches before it, whole;
running it again completes the import."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from pipeline.config import Settings
from pipeline.store.tables import subscribers, subscription_log, subscriptions
from pipeline.subscribers.importing import import_subscribers
from pipeline.subscribers.service import sync_lists
from tests.conftest import REPO
from tests.subscribers.helpers import write

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import pipeline.subscribers.batches as batches
    import pipeline.subscribers.importing as importing
    from pipeline.store.db import connect

    real = batches.insert_rows
    logs = []

    def insert_rows(conn, table, *args, **kwargs):
        real(conn, table, *args, **kwargs)
        if table.name == "subscription_log":
            logs.append(1)
            if len(logs) == 3:  # inside the third batch's transaction: die like kill -9
                os.kill(os.getpid(), signal.SIGKILL)

    batches.insert_rows = insert_rows
    importing.import_subscribers(
        connect(sys.argv[1]), Path(sys.argv[2]), lists=["news"], batch_size=400
    )
    """
)


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.mark.slow
def test_killed_import_is_consistent_and_completes(
    engine: Engine, settings: Settings, db_url: str, tmp_path: Path
) -> None:
    sync_lists(engine, settings)
    rows = "".join(f"k{i}@example.com,Person {i}\n" for i in range(1000))
    path = write(tmp_path / "big.csv", "email,name\n" + rows)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, db_url, str(path)], cwd=REPO, capture_output=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert (_count(engine, subscribers), _count(engine, subscriptions)) == (800, 800)
    assert _count(engine, subscription_log) == 800
    report = import_subscribers(engine, path, lists=["news"], batch_size=400)
    assert (report.added, report.unchanged) == (200, 800)
    assert _count(engine, subscriptions) == 1000
