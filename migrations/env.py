"""Alembic environment. Run through ``kb db ...``, which passes the app's connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import kb.models  # noqa: F401 - registers every table on the metadata
from kb.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url")).begin() as connection:
        run_migrations(connection)
