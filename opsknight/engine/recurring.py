"""Recurring jobs, run by `opsknight scheduler` (rq-scheduler) or by the embedded runner's thread."""

from __future__ import annotations

import logging
import threading
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


def run_scheduler(conn: redis.Redis, interval: float = 1.0, timer_poll_seconds: float = 0.2,
                  stop: threading.Event | None = None) -> None:
    """`opsknight scheduler`: rq-scheduler's recurring jobs, plus a fast mover for one-shot timers in a thread.

    Unlike `Scheduler.run()`, this loop survives Redis going away (it retries) and re-registers the recurring
    jobs whenever they are missing, so a flushed or restarted Redis loses the reconciler for one pass at most.
    """
    from opsknight import broker

    stop = stop or threading.Event()
    threading.Thread(target=broker.move_scheduled_jobs, args=(stop, timer_poll_seconds, False),
                     name="opsknight-timers", daemon=True).start()
    scheduler = Scheduler(queue_name="default", connection=conn, interval=interval)
    log.info("scheduler started: reconcile every %ss, timers polled every %ss", RECONCILE_EVERY_SECONDS,
             timer_poll_seconds)
    while not stop.is_set():
        try:
            if RECONCILE_JOB_ID not in scheduler:
                register(scheduler)
            scheduler.enqueue_jobs()
        except redis.RedisError as exc:
            log.warning("Redis unavailable for the scheduler (retrying): %s", exc)
        stop.wait(interval)
