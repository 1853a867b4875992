"""`newsletter db upgrade|status`."""

from __future__ import annotations

from pipeline.cli.app import console, db_app, get_settings


@db_app.command("upgrade")
def upgrade() -> None:
    """Create the database, or upgrade it to the newest schema (never loses data)."""
    from pipeline.store.db import connect, current_revision, ensure_schema

    settings = get_settings()
    engine = connect(settings.database_url)
    before = current_revision(engine)
    ensure_schema(engine)
    after = current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(
            f"Database {where} is up to date (revision {after}).", markup=False, soft_wrap=True
        )
    else:
        console.print(
            f"Database {where} upgraded from {before or 'empty'} to {after}.",
            markup=False,
            soft_wrap=True,
        )


@db_app.command("status")
def status() -> None:
    """Show the database URL and whether its schema is the newest."""
    from pipeline.store.db import connect, current_revision, head_revision

    engine = connect(get_settings().database_url)
    cur, head = current_revision(engine), head_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    state = "up to date" if cur == head else "needs 'newsletter db upgrade'"
    console.print(
        f"{where}: revision {cur or 'none'} (newest {head}); {state}", markup=False, soft_wrap=True
    )
