"""The database: engine set-up, tables, migrations. Queries live beside the stage that owns them."""

from pipeline.store.db import connect, ensure_schema, open_database

__all__ = ["connect", "ensure_schema", "open_database"]
