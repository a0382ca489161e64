"""Human-facing incident numbers (#42), unique across the installation."""

from __future__ import annotations

from sqlalchemy import func, text
from sqlmodel import Session, select

from opsknight.models import Incident


def next_incident_number(db: Session) -> int:
    """The next incident number.

    PostgreSQL: a sequence, so concurrent ingests never collide and never wait on each other.
    SQLite (embedded default): max + 1 is safe because SQLite lets one writer in at a time.
    """
    if db.get_bind().dialect.name == "postgresql":
        return int(db.execute(text("SELECT nextval('incident_number_seq')")).scalar_one())
    return int(db.exec(select(func.coalesce(func.max(Incident.number), 0) + 1)).one())
