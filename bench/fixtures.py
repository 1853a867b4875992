"""Bench projects: a copy of the repository's newsletter folder and an audience of N.

The audience is inserted with one statement per table (as a large import would leave it):
N active subscribers, all confirmed on the list ``beauty-tips`` that the sample issue goes
to. SQLite gets a template file copied for each repetition; PostgreSQL (``BENCH_DATABASE_URL``,
e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/nl_bench``: a database of its own, since
every repetition drops and recreates its schema) is refilled each time.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SLUG = "2026-12-01-microneedling"
SECRET = "bench-secret-key-0123456789-0123456789"
PG_URL = os.environ.get("BENCH_DATABASE_URL", "")
# What a newsletter folder holds besides newsletter.toml (the brand assets are checked
# before a send: a folder without them fails `issue check`).
PROJECT_FOLDERS = ("templates", "issues", "brand")


def copy_folders(root: Path) -> None:
    """Copy the repository's templates, issues and brand folders under ``root``."""
    for name in PROJECT_FOLDERS:
        if not (root / name).exists():
            shutil.copytree(REPO / name, root / name)


def project(root: Path, extra_toml: str = "") -> Path:
    """A newsletter folder under ``root``: templates, issues, brand, newsletter.toml (+ extra)."""
    root.mkdir(parents=True, exist_ok=True)
    copy_folders(root)
    (root / "newsletter.toml").write_text(
        (REPO / "newsletter.toml").read_text() + "\n" + extra_toml
    )
    return root


def cached_bytecode(pycache: Path) -> dict[str, str]:
    """This environment with Python's bytecode cached in ``pycache``
    (``PYTHONPYCACHEPREFIX``), as an installed package has it: with
    ``PYTHONDONTWRITEBYTECODE`` set (as it is on some machines), an editable install would
    compile every module of the package again at each start, which users do not pay."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**base, "PYTHONPYCACHEPREFIX": str(pycache)}


def env(database_url: str, *, pycache: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a command the benchmarks run (``pycache``: see
    ``cached_bytecode``)."""
    base = dict(os.environ) if pycache is None else cached_bytecode(pycache)
    return {
        **base,
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_SECRET_KEY": SECRET,
        **extra,
    }


def fill_audience(database_url: str, count: int) -> None:
    """A fresh schema with ``count`` confirmed subscribers of beauty-tips."""
    from sqlalchemy import create_engine

    from pipeline.store.db import open_database

    if database_url.startswith("postgresql"):
        raw = create_engine(database_url)
        with raw.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        raw.dispose()
        numbers = "SELECT generate_series(1, %(n)s) AS i"
    else:
        path = Path(database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        numbers = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n) "
            "SELECT i FROM n"
        )
    engine = open_database(database_url)
    params: Any = {"n": count}
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO lists (slug, name, description, double_opt_in, created_at) "
            "VALUES ('beauty-tips', 'Beauty tips', '', true, '2026-01-01 00:00:00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO subscribers (email, name, attributes, status, created_at, updated_at) "
            f"SELECT 'reader' || i || '@example.org', 'Reader ' || i, '{{}}', 'active', "
            f"'2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM ({numbers}) AS numbers",
            params,
        )
        conn.exec_driver_sql(
            "INSERT INTO subscriptions (subscriber_id, list_id, status, consent_method, "
            "consent_text, updated_at) SELECT id, (SELECT id FROM lists), 'confirmed', "
            "'import', '', '2026-01-01 00:00:00' FROM subscribers"
        )
        if database_url.startswith("postgresql"):
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def count_sent(database_url: str) -> int:
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    with engine.connect() as conn:
        query = "SELECT count(*) FROM deliveries WHERE status = 'sent'"
        sent = int(conn.exec_driver_sql(query).scalar_one())
    engine.dispose()
    return sent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smtp_sink(port: int) -> subprocess.Popen[bytes]:
    """postfix's smtp-sink on 127.0.0.1:port, answering every command at once."""
    proc = subprocess.Popen(
        ["/usr/sbin/smtp-sink", "-c", "-u", "postfix", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("smtp-sink did not start")
