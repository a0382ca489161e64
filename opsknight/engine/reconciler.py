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
from opsknight.engine import clock, heartbeats
from opsknight.engine.jobs import outbox_job_id, process_outbox
from opsknight.models import OutboxJob

log = logging.getLogger(__name__)

# An outbox row younger than this is left to the enqueue that follows its commit.
GRACE = timedelta(seconds=3)
LIVE_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def enqueue_outbox(outbox_id: int, *, check_live: bool = True) -> bool:
    """Queue the job for one outbox row. False when Redis is unreachable (the reconciler retries).

    `check_live=False` is for a row just committed (no job can exist yet): one Redis round trip fewer on the
    webhook's path. The reconciler checks, so it never queues a row twice while its job is queued or running.
    """
    conn = broker.redis_conn()
    job_id = outbox_job_id(outbox_id)
    try:
        if check_live:
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
    """Open incidents for missed heartbeats, then re-enqueue unprocessed outbox rows past their grace period.
    Returns how many outbox rows were queued."""
    with session_scope() as db:
        missed = heartbeats.check_overdue(db, clock.now())
    if missed.changed_incident_ids:
        broker.publish_incidents_changed(missed.changed_incident_ids)
    for outbox_id in missed.outbox_ids:
        enqueue_outbox(outbox_id, check_live=False)
    cutoff = clock.now() - GRACE
    with session_scope() as db:
        ids = db.exec(select(OutboxJob.id).where(OutboxJob.processed_at.is_(None), OutboxJob.available_at <= cutoff)
                      .order_by(OutboxJob.available_at).limit(limit)).all()
    queued = sum(1 for outbox_id in ids if enqueue_outbox(outbox_id))
    if queued:
        log.info("reconciler re-queued %d outbox rows", queued)
    return queued
