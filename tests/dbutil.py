"""Test helpers that create and drop throw-away PostgreSQL databases and pick Redis servers.

The suite never reuses data from an earlier run: every database it touches is created here with a random name
and dropped afterwards. PostgreSQL and Redis tests skip on a laptop without the servers, but when
``OPSKNIGHT_REQUIRE_SERVICES=1`` (set by ``.ci/run`` and ``make test``) a missing server fails the run instead.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opsknight.config import normalize_database_url

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"  # a database index of its own: tests flush it


def services_required() -> bool:
    return os.environ.get("OPSKNIGHT_REQUIRE_SERVICES") == "1"


def pg_admin_url() -> str:
    """URL of a PostgreSQL database we may connect to in order to create others."""
    raw = os.environ.get("OPSKNIGHT_TEST_POSTGRES_URL") or os.environ.get("OPSKNIGHT_DATABASE_URL", "")
    if not raw.startswith("postgres"):
        raw = DEFAULT_PG
    return normalize_database_url(raw)


def redis_test_url() -> str:
    """Tests flush this database, so it is never OPSKNIGHT_REDIS_URL itself (that may hold real work)."""
    return os.environ.get("OPSKNIGHT_TEST_REDIS_URL") or DEFAULT_REDIS


def skip_or_fail(reason: str) -> None:
    if services_required():
        pytest.fail(f"{reason} (OPSKNIGHT_REQUIRE_SERVICES=1, so this is a failure, not a skip)")
    pytest.skip(reason)


def pg_available() -> bool:
    try:
        eng = create_engine(pg_admin_url(), connect_args={"connect_timeout": 3})
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def fresh_pg_database(prefix: str = "okt") -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    if not pg_available():
        skip_or_fail(f"PostgreSQL is not reachable at {make_url(pg_admin_url()).render_as_string()}")
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def redis_available(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return True
    except Exception:
        return False
