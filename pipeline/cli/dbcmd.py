"""`newsletter db upgrade|status`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.cli.app import JSON_OPTION, console, db_app, get_settings, print_json

if TYPE_CHECKING:
    from pipeline.store.db import SchemaState


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _say(text: str) -> None:
    console.print(text, markup=False, soft_wrap=True)


@db_app.command(
    "upgrade",
    short_help="Create the database or upgrade its schema (never loses data).",
)
def upgrade() -> None:
    """Create the database, or upgrade it to the newest schema (never loses data)."""
    from pipeline.store.db import connect, ensure_schema, schema_state

    settings = get_settings()
    engine = connect(settings.database_url)
    before = schema_state(engine)
    ensure_schema(engine)
    after = schema_state(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before.revision == after.revision:
        _say(f"Database {where} is up to date (revision {after.revision}).")
    else:
        applied = len(after.applied) - len(before.applied)
        _say(
            f"Database {where} upgraded from {before.revision or 'empty'} to "
            f"{after.revision} ({applied} migration(s) applied)."
        )


def _state_line(where: str, state: SchemaState) -> str:
    total = len(state.chain)
    if state.up_to_date:
        return f"{where}: up to date (at {state.revision}, the last of {total} migrations)."
    run = "run 'newsletter db upgrade' (any other command also does it)"
    if state.revision is None:
        return f"{where}: empty, {total} migration(s) to apply; {run}."
    at = f"at {state.revision}, the {_ordinal(len(state.applied))} of {total}"
    return f"{where}: {len(state.to_apply)} migration(s) to apply ({at}); {run}."


@db_app.command("status", short_help="Is the schema up to date? Its migrations, in order.")
def status(as_json: bool = JSON_OPTION) -> None:
    """Show the database URL, whether its schema is up to date or how many migrations are
    to apply, and the migrations in the order they apply."""
    from pipeline.errors import StoreError
    from pipeline.store.db import connect, schema_state

    engine = connect(get_settings().database_url)
    state = schema_state(engine)
    where = engine.url.render_as_string(hide_password=True)
    if not state.known:
        raise StoreError(
            f"{where} is at revision {state.revision}, which this version of newsletter does "
            f"not know (its newest is {state.newest})",
            fix="a newer version upgraded it: run that version (migrations never go back)",
        )
    if as_json:
        print_json(
            {
                "database": where,
                "revision": state.revision,
                "newest": state.newest,
                "up_to_date": state.up_to_date,
                "applied": list(state.applied),
                "to_apply": list(state.to_apply),
            }
        )
        return
    _say(_state_line(where, state))
    if state.applied:
        _say("Applied, in order: " + " ".join(state.applied))
    if state.to_apply:
        _say("To apply, in order: " + " ".join(state.to_apply))
    if list(state.chain) != sorted(state.chain):
        _say("(Migration ids are names, not numbers: they apply in the order shown.)")
