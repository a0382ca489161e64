"""Migrations apply and roll back on PostgreSQL and SQLite, and cannot drift from the models."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from tests.dbutil import fresh_pg_database
from sqlalchemy import create_engine, inspect, pool
from sqlmodel import SQLModel

import opsknight.models  # noqa: F401 - registers every table
from opsknight import migrate

MODEL_TABLES = set(SQLModel.metadata.tables)


def table_names(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'opsknight.db'}"
    else:
        with fresh_pg_database("okmig") as url:
            yield url


def test_upgrade_creates_every_model_table(db_url: str) -> None:
    migrate.upgrade(db_url)

    assert MODEL_TABLES <= table_names(db_url)
    assert migrate.current_revision(db_url) == migrate.head_revision()


def test_downgrade_to_base_removes_every_table(db_url: str) -> None:
    migrate.upgrade(db_url)

    migrate.downgrade(db_url, "base")

    assert table_names(db_url) <= {"alembic_version"}
    assert migrate.current_revision(db_url) is None


def test_upgrade_after_downgrade_restores_the_schema(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")

    migrate.upgrade(db_url)

    assert MODEL_TABLES <= table_names(db_url)


def test_models_and_migrations_do_not_drift(db_url: str) -> None:
    """What `alembic check` does: autogenerate against the migrated database must find nothing to do."""
    migrate.upgrade(db_url)

    engine = create_engine(db_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()

    assert diff == []


def test_migrating_leaves_application_logging_alone(tmp_path) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    alembic_logger_disabled = logging.getLogger("alembic").disabled

    migrate.upgrade(f"sqlite:///{tmp_path / 'opsknight.db'}")

    assert root.handlers == handlers
    assert root.level == level
    assert logging.getLogger("alembic").disabled == alembic_logger_disabled
