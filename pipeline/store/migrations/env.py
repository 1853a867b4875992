"""Alembic environment: the engine comes from pipeline.store.db (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from pipeline.store.tables import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Table rebuilds (batch mode) drop and rename tables: with foreign keys on, dropping
        # a parent would cascade to its children. Off for the migration (it can only change
        # outside a transaction, so on the driver's connection, before BEGIN); migrations
        # that rebuild check ``PRAGMA foreign_key_check`` themselves.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=sqlite,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
