"""Database engine and session helpers. The one place that creates SQLAlchemy engines."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

from opsknight.config import settings


def make_engine(url: str) -> Engine:
    """Create an engine with the settings each backend needs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # Per process: production runs several web processes and workers on one PostgreSQL, so keep this modest
    # (5 web workers x 15 stays under PostgreSQL's default max_connections of 100). A request that cannot get a
    # connection within pool_timeout is answered 503 + Retry-After (webhooks) rather than queued forever.
    return create_engine(
        url,
        pool_size=int(os.environ.get("OPSKNIGHT_DB_POOL_SIZE", "5")),
        max_overflow=int(os.environ.get("OPSKNIGHT_DB_MAX_OVERFLOW", "10")),
        pool_pre_ping=True,
        pool_timeout=5,
        connect_args={"connect_timeout": 5},
    )


@functools.lru_cache(maxsize=1)
def engine() -> Engine:
    return make_engine(settings().database_url)


def reset_engine() -> None:
    """Dispose of the cached engine (tests switch databases between runs)."""
    if engine.cache_info().currsize:
        engine().dispose()
    engine.cache_clear()


@contextlib.contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
