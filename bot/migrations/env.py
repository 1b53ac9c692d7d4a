"""Alembic's entry point for the state database, run from code by :mod:`bot.state_db`.

The caller hands over an open connection in ``config.attributes["connection"]``; there is
no alembic.ini and no URL here, so an installed wheel migrates the same way. For a new
revision, from the repository root: ``alembic -c <(printf '[alembic]\\nscript_location =
bot/migrations\\n') revision -m "what changes"`` and write its upgrade() by hand.
"""

from __future__ import annotations

from alembic import context

from bot.state_db import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline SQL generation is not supported
    raise RuntimeError("run migrations through bot.state_db.StateDB.upgrade")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite's ALTER TABLE is limited
)
with context.begin_transaction():
    context.run_migrations()
