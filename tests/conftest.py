"""Shared fixtures: a migrated PostgreSQL database per run (emptied before each test that asks for it), the
SQLite flavour, real Redis, and settings pointed at them. Nothing is reused from an earlier run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel

os.environ.setdefault("OPSKNIGHT_BCRYPT_ROUNDS", "4")  # fast hashes in tests; production uses 12

from opsknight import broker, db, integrations  # noqa: E402
from opsknight.api import status_cache  # noqa: E402
from opsknight.api.webhooks import admission as webhooks_admission  # noqa: E402
from opsknight.api.webhooks import common as webhooks_common  # noqa: E402
from opsknight.config import reset_settings  # noqa: E402
from opsknight.engine import clock  # noqa: E402
from tests.dbutil import fresh_pg_database, redis_available, redis_test_url, skip_or_fail  # noqa: E402


def _point_at(monkeypatch, database_url: str, redis_url: str, tmp_path) -> None:
    monkeypatch.setenv("OPSKNIGHT_DATABASE_URL", database_url)
    monkeypatch.setenv("OPSKNIGHT_REDIS_URL", redis_url)
    monkeypatch.setenv("OPSKNIGHT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OPSKNIGHT_ENV", raising=False)
    monkeypatch.delenv("OPSKNIGHT_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("OPSKNIGHT_ADMIN_PASSWORD", raising=False)
    reset_settings()
    db.reset_engine()
    broker.reset_redis()


@pytest.fixture(autouse=True)
def _reset_process_state():
    yield
    clock.set_now(None)
    integrations.forget_touches()
    webhooks_common.forget_redis_failure()
    webhooks_admission.forget_known_tokens()
    status_cache.reset()
    reset_settings()
    db.reset_engine()
    broker.reset_redis()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the whole run."""
    from opsknight import migrate

    with fresh_pg_database("okrun") as url:
        migrate.upgrade(url)
        yield url


def _empty_all_tables(url: str) -> None:
    engine = db.make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def redis_url() -> str:
    url = redis_test_url()
    if not redis_available(url):
        skip_or_fail(f"Redis is not reachable at {url}")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def pg(pg_url, redis_url, monkeypatch, tmp_path) -> str:
    """Settings pointed at the run's PostgreSQL database (emptied) and real Redis (flushed)."""
    _empty_all_tables(pg_url)
    _point_at(monkeypatch, pg_url, redis_url, tmp_path)
    return pg_url


@pytest.fixture
def sqlite(monkeypatch, tmp_path) -> str:
    """Settings pointed at a fresh, migrated SQLite file and the embedded in-process Redis."""
    from opsknight import migrate

    url = f"sqlite:///{tmp_path / 'test.db'}"
    migrate.upgrade(url)
    _point_at(monkeypatch, url, "", tmp_path)
    return url


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db(request) -> str:
    """Run a test on both backends."""
    return request.getfixturevalue("pg" if request.param == "postgresql" else "sqlite")


@pytest.fixture
def session(pg) -> Iterator[Session]:
    with Session(db.engine(), expire_on_commit=False) as s:
        yield s
