"""Start-up and shut-down work of each web process, registered with `app.register_lifespan_task`."""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy.exc import IntegrityError

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


@contextlib.asynccontextmanager
async def app_lifespan():
    bootstrap_admin()
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
