"""Alembic environment: runs the migrations on the connection `api.migrate` hands over,
or on `sqlalchemy.url` when run from the alembic command line."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from api.store import metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        _run(connection)
