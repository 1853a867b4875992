"""kill -9 of a sending process at 10 moments (`python -m bench kill`).

A real `newsletter issue send` (then `issue resume`) sends an edition to 5,000 recipients
through the SMTP transport with 8 connections into an SMTP server on 127.0.0.1 that counts
the copies each recipient gets. It is killed with SIGKILL when the server has accepted a
chosen number of messages, 10 times at spread-out moments; the last resume runs to the end.

Per kill the table gives the rows the ledger held ``in_flight`` (what ``issue resume``
reports it will send again), the ``uncertain`` rows, and the duplicates that kill really
caused: recipients the server had accepted whose row was not yet written ``sent``. The
goal is at most 2 x connections (16) duplicates per kill. The database is SQLite, or the
URL in NEWSLETTER_BENCH_DATABASE_URL (PostgreSQL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from bench.fixtures import copy_folders
from pipeline.sending.editions import get_edition
from pipeline.sending.ledger import count_by_status
from pipeline.store.db import connect, ensure_schema
from pipeline.store.tables import deliveries

REPO = Path(__file__).resolve().parent.parent
NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
SLUG = "2026-12-01-microneedling"
RECIPIENTS = 5000
CONNECTIONS = 8
KILLS = 10


def _project(root: Path, port: int) -> None:
    copy_folders(root)
    config = (REPO / "newsletter.toml").read_text()
    config = config.replace(
        '[sending]\ntransport = "maildir"',
        '[sending]\ntransport = "smtp"\nbackoff_base = 0.0',
    )
    config += f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nconnections = {CONNECTIONS}\n'
    (root / "newsletter.toml").write_text(config)


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": "bench-secret-key-0123456789-0123456789",
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_CONFIG": "",
    }


def measure(url: str, root: Path) -> list[dict[str, Any]]:
    from tests.sending.conftest import _start_smtp, add_audience

    controller, server = _start_smtp()
    handler = server.handler
    try:
        _project(root, server.port)
        engine = connect(url)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        ensure_schema(engine)
        add_audience(engine, RECIPIENTS)
        step = (RECIPIENTS - 600) // KILLS
        targets = [300 + step * k for k in range(KILLS)]
        runs: list[dict[str, Any]] = []
        command = ["issue", "send", SLUG, "--yes"]
        for target in targets:
            handler.target = target
            handler.reached.clear()
            proc = subprocess.Popen(
                [NEWSLETTER, *command],
                cwd=root,
                env=_env(url),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if not handler.reached.wait(timeout=300):
                raise RuntimeError(f"never reached {target} messages")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            time.sleep(0.3)  # the server finishes what it was reading (then drops it)
            edition = get_edition(engine, SLUG)
            counts = count_by_status(engine, edition.id)
            with engine.connect() as conn:
                written = {
                    r.email
                    for r in conn.execute(
                        select(deliveries.c.email).where(
                            deliveries.c.status.in_(["sent", "uncertain"])
                        )
                    )
                }
            on_wire = {rcpt for rcpt, _ in handler.accepted}
            runs.append(
                {
                    "killed_at": target,
                    "accepted": len(handler.accepted),
                    "in_flight": counts["in_flight"],
                    "uncertain": counts["uncertain"],
                    "duplicates": len(on_wire - written),
                }
            )
            command = ["issue", "resume", SLUG]
        handler.target = 0
        subprocess.run([NEWSLETTER, *command], cwd=root, env=_env(url), check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        copies = Counter(rcpt for rcpt, _ in handler.accepted)
        total = sum(copies.values()) - len(copies)
        edition = get_edition(engine, SLUG)
        final = count_by_status(engine, edition.id)
        assert len(copies) == RECIPIENTS, f"{RECIPIENTS - len(copies)} recipients got nothing"
        assert total == sum(r["duplicates"] for r in runs), "duplicates not accounted for"
        for run in runs:
            run["final_sent"] = final["sent"]
        engine.dispose()
        return runs
    finally:
        controller.stop()


def run() -> list[dict[str, Any]]:
    url = os.environ.get("NEWSLETTER_BENCH_DATABASE_URL", "")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        kind = "postgresql" if url else "sqlite"
        runs = measure(url or f"sqlite:///{root / 'bench.db'}", root)
    rows = []
    for i, r in enumerate(runs, start=1):
        print(
            f"kill {i:2d} at {r['killed_at']:5d} accepted: {r['in_flight']:4d} in flight, "
            f"{r['uncertain']} uncertain, {r['duplicates']:3d} duplicates"
        )
        rows.append(
            {
                "name": f"kill -9 #{i} ({kind}, {CONNECTIONS} connections, {RECIPIENTS:,}"
                " recipients): duplicates",
                "value": r["duplicates"],
                "unit": "messages",
                "target": f"<= {2 * CONNECTIONS}",
                "ok": r["duplicates"] <= 2 * CONNECTIONS,
                "note": f"{r['in_flight']} in flight, {r['uncertain']} uncertain at the kill",
            }
        )
    return rows


if __name__ == "__main__":
    run()
