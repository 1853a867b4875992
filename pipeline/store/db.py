"""Engine set-up for SQLite (default, WAL mode) and PostgreSQL, and schema creation.

Any command on an empty database creates it: ``open_database`` runs the Alembic migrations
up to the newest before returning the engine.

SQLAlchemy is imported inside the functions that use it (about 0.1 s): importing this
module costs nothing, so ``pipeline.store.reader`` can check a database's revision against
``HEAD`` and read it without SQLAlchemy (``newsletter issue list``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import StoreError
from pipeline.private import private_dir, private_file

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"

#: The newest migration. Kept here so that the common case (a current database) needs no
#: Alembic import at start-up; a test checks it equals Alembic's head.
#: Migration ids are names, not a count: they apply in the order of their ``down_revision``
#: links (... 0008, 0012, 0011, 0010, 0018a, 0018b, 0019a, 0012a, 0020a), so the newest
#: need not have the highest number. Never rename one: every database records the id it is at.
HEAD = "0020a"


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands in the chain of migrations."""

    revision: str | None  # the database's, None when it is empty
    chain: tuple[str, ...]  # every migration's id, in the order they apply (oldest first)

    @property
    def newest(self) -> str:
        return self.chain[-1]

    @property
    def known(self) -> bool:
        """False when a newer version of the newsletter upgraded the database."""
        return self.revision is None or self.revision in self.chain

    @property
    def applied(self) -> tuple[str, ...]:
        if self.revision is None or not self.known:
            return ()
        return self.chain[: self.chain.index(self.revision) + 1]

    @property
    def to_apply(self) -> tuple[str, ...]:
        return self.chain[len(self.applied) :] if self.known else ()

    @property
    def up_to_date(self) -> bool:
        return self.revision == self.newest


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def connect(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``. SQLite gets WAL, foreign keys, a busy timeout, and
    ``BEGIN IMMEDIATE`` transactions so that claims made by several processes are atomic."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
        raise StoreError(
            f"the database URL {url!r} is neither SQLite nor PostgreSQL",
            fix="write sqlite:///var/newsletter.db or postgresql+psycopg://USER@HOST:5432/DB"
            " in [database] url of newsletter.toml or NEWSLETTER_DATABASE_URL",
        )
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            try:
                private_dir(Path(path).parent)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for the database {path}: {exc.strerror}",
                    fix="point [database] url in newsletter.toml at a writable folder",
                ) from None
            private_file(Path(path))  # SQLite gives its -wal and -shm files this mode
        engine = create_engine(url, echo=echo, poolclass=NullPool, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision, or None for an empty database."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError) as exc:
        if "alembic_version" in str(exc.orig):  # no such table: an empty database
            return None
        raise


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def migration_chain(engine: Engine) -> tuple[str, ...]:
    """Every migration's id, oldest first: the order they apply in (not number order)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    return tuple(reversed([rev.revision for rev in script.walk_revisions()]))


def schema_state(engine: Engine) -> SchemaState:
    """The database's revision and where it stands in the chain (reads, changes nothing)."""
    return SchemaState(current_revision(engine), migration_chain(engine))


def ensure_schema(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (the newest by default). Safe to call often."""
    from sqlalchemy.exc import OperationalError

    try:
        if revision == "head" and current_revision(engine) == HEAD:
            return
        from alembic import command

        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise StoreError(
            f"cannot open the database: {exc.orig}",
            fix="check [database] url in newsletter.toml or NEWSLETTER_DATABASE_URL",
        ) from None


def open_database(url: str) -> Engine:
    """Connect and make sure the schema is current."""
    engine = connect(url)
    ensure_schema(engine)
    return engine
