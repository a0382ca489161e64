"""What every table shares: the naming convention, the JSON type, column sizes and small helpers.

Imported first by every models module, so the naming convention is in place before any table is defined
(constraint names are computed when a constraint is attached to its table).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import SQLModel

# Deterministic constraint and index names, identical on PostgreSQL and SQLite, so migrations can name them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (compact, indexable); JSON text on SQLite. none_as_null: Python None is SQL NULL, not 'null'.
JSONType = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

DIGEST_LEN = 64  # SHA-256 hex digest
KEY_LEN = 255  # dedup keys, idempotency keys
TITLE_LEN = 1024  # incident titles and alert summaries (callers truncate longer text)


def _now() -> datetime:
    """Default for ``created_at`` only; every other timestamp comes from the injectable clock."""
    return datetime.now(UTC)


def _one_of(column: str, values: type[StrEnum]) -> sa.CheckConstraint:
    """CHECK that ``column`` holds one of the enumeration's values; named ``ck_<table>_<column>``."""
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=column)
