"""Alembic environment: migrations run on the connection ``floodmark.registry`` hands over.

Run from code only (``floodmark.registry.engine.migrate``); there is no alembic.ini.
"""

from __future__ import annotations

from alembic import context

from floodmark.registry.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place: Alembic copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
