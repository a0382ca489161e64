"""Run Alembic migrations in-process (for the CLI, app start-up and tests), without a subprocess.

    from opsknight import migrate
    migrate.upgrade()                      # OPSKNIGHT_DATABASE_URL, to the newest revision
    migrate.upgrade("sqlite:///x.db")      # another database
    migrate.downgrade(url, "base")         # drop everything
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from opsknight.config import normalize_database_url, settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
ALEMBIC_DIR = PROJECT_ROOT / "alembic"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for the project's migrations, pointed at ``url`` (default: the configured database).

    Logging is left alone (``configure_logger`` is False): the application owns it.
    """
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    db_url = normalize_database_url(url) if url else settings().database_url
    cfg.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))  # ConfigParser interpolation
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrate the database up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None, revision: str) -> None:
    """Migrate the database down to ``revision`` ("base" removes every table)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest revision in alembic/versions."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at (None: never migrated)."""
    engine = create_engine(normalize_database_url(url) if url else settings().database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
