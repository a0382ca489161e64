"""Process, port and scratch-database helpers the benchmarks share. The process and port ones are the tests' own
(`tests/live_server.py`): one copy for both."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `tests` as a package

from tests.live_server import free_port  # noqa: E402
from tests.live_server import stop_process_group as stop  # noqa: E402

__all__ = ["ADMIN_PG", "free_port", "scratch", "stop"]

ADMIN_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def scratch(redis_url: str, prefix: str, keep_workdir: bool = False,
            **env: str) -> Iterator[tuple[str, str, Path]]:
    """(database URL, database name, work directory) for one run: a PostgreSQL database of its own, `redis_url`'s
    db flushed, a temporary directory, all set in this process's OPSKNIGHT_* variables (plus `env`); dropped,
    flushed and removed afterwards, also when the run fails (the directory stays with `keep_workdir`)."""
    db_name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    db_url = make_url(ADMIN_PG).set(database=db_name).render_as_string(hide_password=False)
    workdir = Path(tempfile.mkdtemp(prefix=f"opsknight-{prefix}-"))
    os.environ.update(OPSKNIGHT_DATABASE_URL=db_url, OPSKNIGHT_REDIS_URL=redis_url, OPSKNIGHT_DATA_DIR=str(workdir),
                      **env)
    admin = create_engine(ADMIN_PG, isolation_level="AUTOCOMMIT")
    rds = redis.Redis.from_url(redis_url)
    rds.flushdb()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    try:
        yield db_url, db_name, workdir
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()
        rds.flushdb()
        if keep_workdir:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
