"""Alembic environment for OpsKnight.

Migrations are generated against PostgreSQL and reviewed by hand; they must also apply on SQLite (the embedded
default), hence batch mode there. Column types are rendered as plain SQLAlchemy types (see `render_item`) so a
migration never imports application code that may later change.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel, UTCDateTime
from sqlmodel.sql.sqltypes import AutoString

import opsknight.models  # noqa: F401 - registers every table on SQLModel.metadata

config = context.config

# Only the alembic command line configures logging from alembic.ini; opsknight.migrate sets
# configure_logger=False so running migrations inside the app or tests does not clobber their logging.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from opsknight.config import settings

    return settings().database_url


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render SQLModel's column types as the plain SQLAlchemy types they store."""
    if type_ == "type":
        if isinstance(obj, UTCDateTime):
            return "sa.DateTime(timezone=True)"
        if isinstance(obj, AutoString):
            length = obj.impl.length
            return f"sa.String(length={length})" if length else "sa.String()"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade head --sql`)."""
    url = database_url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with_connection(connection: Any) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # A caller may hand us an open connection (config.attributes["connection"]) to migrate inside its own
    # transaction.
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with_connection(connection)
        return
    # A plain engine, not opsknight.db.make_engine: on SQLite, batch migrations recreate tables, and with
    # PRAGMA foreign_keys=ON dropping the old table would cascade-delete rows of child tables.
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run_with_connection(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
