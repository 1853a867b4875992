"""Fixtures shared by the whole suite: databases, settings, free ports, the browser.

Databases: every test that asks for ``db_url`` or ``engine`` runs on SQLite, and again on
PostgreSQL when NEWSLETTER_TEST_DATABASE_URL is set (CI sets it when PostgreSQL answers).
Without that variable the PostgreSQL half is not generated at all (nothing is skipped).

Under pytest-xdist (``make test`` runs ``pytest -n auto``) each worker gets a PostgreSQL
database of its own, ``<database>_gw0``, ``<database>_gw1``...: made when the worker starts,
put in NEWSLETTER_TEST_DATABASE_URL for the worker and the processes it starts, and dropped
when it ends (the suite empties its database between tests, so workers cannot share one).
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from pipeline.config import Settings, load_settings
from pipeline.store.db import connect, ensure_schema
from pipeline.store.tables import metadata

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"  # test data written by others: data/SOURCES.md
PG_ENV = "NEWSLETTER_TEST_DATABASE_URL"
TEST_SECRET = "test-secret-key-not-for-production-0123456789"
CHROMIUM = Path("/usr/bin/chromium")
_SHARED_PG = pytest.StashKey[str]()


def _admin(url: str) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def pytest_configure(config: pytest.Config) -> None:
    """Compiled templates go to a cache folder of the run's own, not the user's; an xdist
    worker moves to a PostgreSQL database of its own (see the module doc)."""
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="newsletter-test-cache-")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get(PG_ENV)
    if not worker or not url:
        return
    shared = make_url(url)
    own = shared.set(database=f"{shared.database}_{worker}")
    admin = _admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    admin.dispose()
    os.environ[PG_ENV] = own.render_as_string(hide_password=False)
    config.stash[_SHARED_PG] = url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_kind" in metafunc.fixturenames:
        kinds = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])
        metafunc.parametrize("db_kind", kinds, scope="session")


# ---- the CLI's consoles ----------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_cli_consoles() -> Iterator[None]:
    """The CLI's consoles are made on first use and read COLUMNS then (pipeline/cli/app.py):
    made afresh for each test, a test run with COLUMNS=80 does not narrow the tables of the
    tests after it in the same process."""
    yield
    cli_app = importlib.import_module("pipeline.cli.app")
    for lazy in (cli_app.console, cli_app.err_console):
        lazy._console = None


# ---- databases -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = connect(f"sqlite:///{path}")
    ensure_schema(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def _pg_engine(request: pytest.FixtureRequest) -> Iterator[Engine | None]:
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    engine = connect(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    ensure_schema(engine)
    yield engine
    engine.dispose()
    shared = request.config.stash.get(_SHARED_PG, None)
    if shared:  # this xdist worker's own database
        admin = _admin(shared)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


def _truncate_pg(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name != "app_meta")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db_url(db_kind: str, tmp_path: Path, _sqlite_template: Path, _pg_engine: Engine | None) -> str:
    """A URL of an empty, fully migrated database (SQLite file, or PostgreSQL truncated)."""
    if db_kind == "sqlite":
        target = tmp_path / "newsletter.db"
        shutil.copyfile(_sqlite_template, target)
        return f"sqlite:///{target}"
    assert _pg_engine is not None
    _truncate_pg(_pg_engine)
    return os.environ[PG_ENV]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = connect(db_url)
    yield eng
    eng.dispose()


# ---- settings and a newsletter folder --------------------------------------------------
@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A newsletter folder: the repo's templates, issues and sample subscribers, copied."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("templates", "issues", "subscribers", "brand"):
        src = REPO / name
        if src.exists():
            shutil.copytree(src, root / name)
    shutil.copyfile(REPO / "newsletter.toml", root / "newsletter.toml")
    return root


@pytest.fixture
def make_settings(project_dir: Path) -> Callable[..., Settings]:
    """Build Settings for ``project_dir``; keyword arguments are 'section.key' overrides,
    e.g. ``make_settings(**{"sending.transport": "smtp"})``; ``env=`` adds environment."""

    def make(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        environ = {"NEWSLETTER_SECRET_KEY": TEST_SECRET, **(env or {})}
        return load_settings(project_dir / "newsletter.toml", environ, overrides=overrides)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings], db_url: str) -> Settings:
    """Settings for a copied project whose database is the test database."""
    return make_settings(**{"database.url": db_url})


@pytest.fixture
def file_settings(make_settings: Callable[..., Settings]) -> Settings:
    """Settings for a copied project, for tests that need no database."""
    return make_settings()


# ---- network ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


# ---- the browser -----------------------------------------------------------------------
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright. Without it the browser tests fail (never
    skip): the rendered email, the web pages and the studio are only tested in a browser."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"chromium is missing ({CHROMIUM}): install it with 'apt-get install -y chromium' "
            "(.ci/run does), then run the tests again"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    pg = context.new_page()
    yield pg
    context.close()
