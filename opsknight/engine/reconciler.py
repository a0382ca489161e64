"""The sweep that rebuilds lost work from PostgreSQL: Redis is a fast path, never the only copy.

Outbox rows that are still unprocessed a little while after they were written (the enqueue after commit
failed, Redis was flushed, a worker died mid-job) are queued again under their deterministic job id.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlmodel import select

from opsknight import broker
from opsknight.db import session_scope
from opsknight.engine import clock
from opsknight.engine.jobs import outbox_job_id, process_outbox
from opsknight.models import OutboxJob

log = logging.getLogger(__name__)

# An outbox row younger than this is left to the enqueue that follows its commit.
GRACE = timedelta(seconds=3)
LIVE_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def enqueue_outbox(outbox_id: int, conn: redis.Redis | None = None) -> bool:
    """Queue the job for one outbox row unless a live job for it exists. False when Redis is unreachable."""
    conn = conn or broker.redis_conn()
    job_id = outbox_job_id(outbox_id)
    try:
        try:
            if Job.fetch(job_id, connection=conn).get_status() in LIVE_STATES:
                return True
        except NoSuchJobError:
            pass
        broker.queue("urgent").enqueue(process_outbox, outbox_id, job_id=job_id, result_ttl=600,
                                       failure_ttl=86400, job_timeout=60)
        return True
    except redis.RedisError as exc:
        log.warning("enqueue of outbox row %s failed (the reconciler will retry): %s", outbox_id, exc)
        return False


def reconcile(limit: int = 500) -> int:
    """Re-enqueue unprocessed outbox rows past their grace period. Returns how many were queued."""
    cutoff = clock.now() - GRACE
    with session_scope() as db:
        ids = db.exec(select(OutboxJob.id).where(OutboxJob.processed_at.is_(None), OutboxJob.available_at <= cutoff)
                      .order_by(OutboxJob.available_at).limit(limit)).all()
    queued = sum(1 for outbox_id in ids if enqueue_outbox(outbox_id))
    if queued:
        log.info("reconciler re-queued %d outbox rows", queued)
    return queued
