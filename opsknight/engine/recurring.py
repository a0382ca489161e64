"""Recurring jobs, run by `opsknight scheduler` (rq-scheduler) or by the embedded runner's thread."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import redis
from rq_scheduler import Scheduler

from opsknight.engine import reconciler

log = logging.getLogger(__name__)

RECONCILE_EVERY_SECONDS = 5
RECONCILE_JOB_ID = "opsknight-reconcile"


def register(scheduler: Scheduler) -> None:
    """(Re)register every recurring job under a fixed id, so restarts never duplicate them."""
    for job in scheduler.get_jobs():
        if job.id == RECONCILE_JOB_ID:
            scheduler.cancel(job)
    scheduler.schedule(scheduled_time=datetime.now(timezone.utc),
                       func=reconciler.reconcile, interval=RECONCILE_EVERY_SECONDS, repeat=None,
                       id=RECONCILE_JOB_ID, queue_name="default", result_ttl=60)


def run_scheduler(conn: redis.Redis, interval: float = 1.0) -> None:
    scheduler = Scheduler(queue_name="default", connection=conn, interval=interval)
    register(scheduler)
    log.info("scheduler started: reconcile every %ss", RECONCILE_EVERY_SECONDS)
    scheduler.run()
