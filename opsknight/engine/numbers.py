"""Human-facing incident numbers (#42), unique across the installation."""

from __future__ import annotations

from sqlalchemy import func, text
from sqlmodel import Session, select

from opsknight.models import Incident


def next_incident_numbers(db: Session, count: int) -> list[int]:
    """`count` fresh incident numbers, ascending.

    PostgreSQL: a sequence, so concurrent ingests never collide and never wait on each other.
    SQLite (embedded default): max + 1 is safe because SQLite lets one writer in at a time.
    """
    if count <= 0:
        return []
    if db.get_bind().dialect.name == "postgresql":
        rows = db.execute(text("SELECT nextval('incident_number_seq') FROM generate_series(1, :n)"), {"n": count})
        return sorted(int(r[0]) for r in rows)
    start = int(db.exec(select(func.coalesce(func.max(Incident.number), 0))).one()) + 1
    return list(range(start, start + count))


def next_incident_number(db: Session) -> int:
    return next_incident_numbers(db, 1)[0]
