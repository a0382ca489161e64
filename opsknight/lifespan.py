"""Start-up and shut-down work of each web process, registered with `app.register_lifespan_task`."""

from __future__ import annotations

import contextlib
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
    """OpsKnight relies on PostgreSQL's autovacuum to keep planner statistics fresh: with statistics from an empty
    table the webhook's dedup lookup for a batch reads every open incident of the service, so ingest slows as an
    alert storm goes on. It is on by default; say so loudly when someone turned it off."""
    try:
        with session_scope() as db:
            if db.get_bind().dialect.name != "postgresql":
                return
            setting = db.connection().execute(text("SHOW autovacuum")).scalar_one()
    except SQLAlchemyError:
        return  # unreachable now; health checks and webhooks report that on their own
    if setting != "on":
        log.warning("PostgreSQL runs with autovacuum=%s: planner statistics go stale and ingest slows as incidents "
                    "accumulate; turn it on (ALTER SYSTEM SET autovacuum = on) or run ANALYZE regularly", setting)


@contextlib.asynccontextmanager
async def app_lifespan():
    bootstrap_admin()
    warn_if_autovacuum_is_off()
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
