"""Start-up and shut-down work of each web process, registered with `app.register_lifespan_task`."""

from __future__ import annotations

import contextlib
import gc
import logging

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from opsknight import accounts, broker
from opsknight.config import settings
from opsknight.db import session_scope

log = logging.getLogger("opsknight")


def bootstrap_admin() -> None:
    try:
        with session_scope() as db:
            user = accounts.ensure_bootstrap_admin(db, settings())
        if user is not None:
            log.warning("created the first admin user %s from OPSKNIGHT_ADMIN_EMAIL", user.email)
    except IntegrityError:  # another web process created it at the same moment
        pass


def warn_if_autovacuum_is_off() -> None:
    """Say so loudly when PostgreSQL's autovacuum (on by default) is off: dead rows are never reclaimed, and
    planner statistics go stale (the reconciler then analyzes the incidents table itself, see
    engine.planner_stats)."""
    try:
        with session_scope() as db:
            if db.get_bind().dialect.name != "postgresql":
                return
            setting = db.connection().execute(text("SHOW autovacuum")).scalar_one()
    except SQLAlchemyError:
        return  # unreachable now; health checks and webhooks report that on their own
    if setting != "on":
        log.warning("PostgreSQL runs with autovacuum=%s: dead rows are never reclaimed and tables grow; OpsKnight "
                    "analyzes its incidents table itself, but turn autovacuum on (ALTER SYSTEM SET autovacuum = on)",
                    setting)


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (the compiled app, its components and states: hundreds of thousands
    of objects that live as long as the process) out of the garbage collector's sight. Otherwise every full
    collection walks them all, a pause of 100+ ms felt by every request in the process at that moment (seen in
    bench/status.py's p99)."""
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def app_lifespan():
    bootstrap_admin()
    warn_if_autovacuum_is_off()
    freeze_startup_objects()
    runner = None
    if settings().embedded_worker:
        runner = broker.EmbeddedRunner()
        runner.start()
        log.info("embedded RQ worker started (%s)", "in-process Redis" if settings().embedded_redis else "Redis")
    try:
        yield
    finally:
        if runner is not None:
            runner.stop()
