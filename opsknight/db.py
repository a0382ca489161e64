"""Database engine and session helpers. The one place that creates SQLAlchemy engines."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import time
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import InvalidatePoolError
from sqlmodel import Session

from opsknight.config import settings
from opsknight.engine.analytics_sql import register_sqlite_functions


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
            # percentile_cont, AT TIME ZONE... for analytics: the same queries as on PostgreSQL (engine.analytics_sql)
            register_sqlite_functions(dbapi_conn)

        return engine
    # Per process: production runs several web processes and workers on one PostgreSQL, so keep this modest
    # (5 web workers x 15 stays under PostgreSQL's default max_connections of 100). A request that cannot get a
    # connection within pool_timeout is answered 503 + Retry-After (webhooks) rather than queued forever.
    engine = create_engine(
        url,
        pool_size=db_pool_size(),
        max_overflow=int(os.environ.get("OPSKNIGHT_DB_MAX_OVERFLOW", "10")),
        pool_timeout=5,
        connect_args={"connect_timeout": 5},
    )
    _ping_when_idle(engine)
    return engine


def db_pool_size() -> int:
    return int(os.environ.get("OPSKNIGHT_DB_POOL_SIZE", "5"))


IDLE_PING_SECONDS = 10.0
# Set by a caller that retries its transaction's first statement on a dead connection (the webhook path): its
# checkouts skip the ping unless the connection sat idle. Everyone else — workers recording a send, the UI —
# gets a connection pinged at every checkout, as SQLAlchemy's pool_pre_ping would.
_first_statement_retried: contextvars.ContextVar[bool] = contextvars.ContextVar("first_statement_retried",
                                                                                 default=False)


@contextlib.contextmanager
def first_statement_retried() -> Iterator[None]:
    """Mark the transactions in this block as retrying their first statement on a dead connection."""
    token = _first_statement_retried.set(True)
    try:
        yield
    finally:
        _first_statement_retried.reset(token)


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout — except, inside `first_statement_retried()`, one used within the last
    IDLE_PING_SECONDS: the ping is a round trip that cost ~15 % of a webhook request's CPU, a connection in steady
    use is proven by its last statement, and one that died under load (a database restart) fails the webhook's
    first statement, which writes nothing and is retried (api.webhooks.common); the pool then replaces all its
    connections."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:  # a connection opened just now
            return
        if _first_statement_retried.get() and time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure means "do not use this connection"
            raise InvalidatePoolError("pooled connection failed its ping") from exc  # all of them, likely
        if not alive:
            raise InvalidatePoolError("pooled connection failed its ping")


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


def after_commit(session: Session, fn) -> None:
    """Run `fn()` once `session`'s transaction has committed (e.g. tell Redis readers: before the commit they would
    read the old rows). Not run on rollback."""
    event.listen(session, "after_commit", lambda _session: fn(), once=True)
