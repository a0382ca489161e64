"""The sweep that rebuilds lost work from PostgreSQL: Redis is a fast path, never the only copy.

Every few seconds (rq-scheduler, or the embedded runner's thread) and at every worker start it re-queues, under
their deterministic job ids:
- outbox rows still unprocessed a little while after they were written (the enqueue after commit failed,
  Redis was flushed, a worker died mid-job);
- escalations whose `next_escalation_at` has passed (a scheduled job lost with Redis, or a scheduler lagging);
- deliveries due and still pending, and deliveries stuck in "sending" past their lease (the worker died in
  the middle of a send: the page may go out once more, never zero times);
- pushes that had to be shown by now (`shown_by`): the check that lets the person's next rule run at once;
and it opens incidents for heartbeats that stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlmodel import or_, select

from opsknight import broker
from opsknight.db import engine as db_engine
from opsknight.db import session_scope
from opsknight.engine import clock, dispatch, heartbeats, planner_stats
from opsknight.engine.jobs import JOB_FUNCS, outbox_job_id, process_outbox
from opsknight.models import Delivery, DeliveryStatus, Incident, OutboxJob

log = logging.getLogger(__name__)

# Work younger than this is left to the enqueue (or the RQ scheduler) that should handle it.
GRACE = timedelta(seconds=3)
TIMER_GRACE = timedelta(seconds=2)
# Longer than any job runs (a send has a 10-15 s provider timeout); a "started" job older than this is orphaned.
STALE_STARTED = timedelta(seconds=60)
# A job in one of these states will run by itself. A SCHEDULED job does not count for work already due by the
# database's clock: its RQ-side timer may be lost or late, so the reconciler queues it now.
RUNNING_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED}


def _started_long_ago(job: Job) -> bool:
    started = job.started_at
    if started is None:
        return True
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - started > STALE_STARTED


def _enqueue(job_id: str, func: Callable, *args) -> bool:
    """Queue a job under its deterministic id unless it is already queued or running.

    A job "started" long ago whose work is still undone in PostgreSQL lost its worker (kill -9, OOM): RQ only
    notices after its heartbeat expires and a cleanup runs, minutes later. It is queued again under a fresh id
    at once; every job re-checks its rows under a lock, so if the first one was alive after all, nothing
    happens twice.
    """
    conn = broker.redis_conn()
    try:
        try:
            job = Job.fetch(job_id, connection=conn)
            status = job.get_status()
            if status == JobStatus.STARTED and _started_long_ago(job):
                job_id = f"{job_id}-r{int(datetime.now(timezone.utc).timestamp())}"
            elif status in RUNNING_STATES:
                return True
        except NoSuchJobError:
            pass
        broker.queue("urgent").enqueue(func, *args, job_id=job_id, result_ttl=600, failure_ttl=86400,
                                       job_timeout=60)
        return True
    except redis.RedisError as exc:
        log.warning("enqueue of %s failed (the reconciler will retry): %s", job_id, exc)
        return False


def enqueue_outbox(outbox_id: int) -> bool:
    """Queue the job for one outbox row unless its job is queued or running. False when Redis is unreachable
    (the reconciler retries)."""
    return _enqueue(outbox_job_id(outbox_id), process_outbox, outbox_id)


def enqueue_new_outbox(outbox_ids: list[int], changed_incident_ids: list[int] = (), status_page: bool = True) -> bool:
    """Queue the jobs of rows just committed (no job can exist for them yet) and tell live dashboards which
    incidents changed (and the status page cache, when `status_page`), in one Redis round trip: the webhook's
    fast path. False when Redis is unreachable; the reconciler picks the rows up (and dashboards resync on their
    own)."""
    if not outbox_ids and not changed_incident_ids:
        return True
    queue = broker.queue("urgent")
    try:
        with queue.connection.pipeline() as pipe:
            if outbox_ids:
                queue.enqueue_many([queue.prepare_data(process_outbox, (i,), job_id=outbox_job_id(i), result_ttl=600,
                                                       failure_ttl=86400, timeout=60) for i in outbox_ids],
                                   pipeline=pipe)
            if changed_incident_ids:
                broker.publish_incidents_changed(changed_incident_ids, pipe, status_page)
            pipe.execute()
        return True
    except redis.RedisError as exc:
        log.warning("enqueue of %d outbox rows failed (the reconciler will retry): %s", len(outbox_ids), exc)
        return False


def reconcile(limit: int = 500) -> int:
    """One sweep. Returns how many jobs it queued."""
    try:  # each phase on its own: a failure here must not stop the sweep of lost pages below
        with session_scope() as db:
            missed = heartbeats.check_overdue(db, clock.now())
        enqueue_new_outbox(missed.outbox_ids, missed.changed_incident_ids, missed.status_page_changed)
    except Exception:
        log.exception("heartbeat check failed")
    try:
        with db_engine().begin() as conn:
            if planner_stats.analyze_incidents_if_stale(conn):
                log.info("autovacuum is off for incidents: analyzed it")
    except Exception:
        log.exception("refreshing planner statistics failed")

    now = clock.now()
    with session_scope() as db:
        outbox_ids = db.exec(select(OutboxJob.id).where(
            OutboxJob.processed_at.is_(None), OutboxJob.available_at <= now - GRACE)
            .order_by(OutboxJob.available_at).limit(limit)).all()
        due_incidents = db.exec(select(Incident).where(Incident.next_escalation_at <= now - TIMER_GRACE)
            .order_by(Incident.next_escalation_at).limit(limit)).all()
        due_deliveries = db.exec(select(Delivery).where(
            or_(Delivery.status == DeliveryStatus.PENDING, Delivery.status == DeliveryStatus.SENDING),
            Delivery.next_attempt_at <= now - TIMER_GRACE).order_by(Delivery.next_attempt_at).limit(limit)).all()
        unseen_pushes = db.exec(select(Delivery).where(Delivery.shown_by <= now - TIMER_GRACE)
                                .order_by(Delivery.shown_by).limit(limit)).all()
    queued = sum(1 for outbox_id in outbox_ids if enqueue_outbox(outbox_id))
    queued += sum(1 for incident in due_incidents
                  if _enqueue(dispatch.escalate_job(incident).job_id, JOB_FUNCS["escalate"], incident.id))
    queued += sum(1 for delivery in due_deliveries
                  if _enqueue(dispatch.send_job(delivery).job_id, JOB_FUNCS["send_delivery"], delivery.id))
    queued += sum(1 for delivery in unseen_pushes
                  if _enqueue(dispatch.push_unseen_job(delivery).job_id, JOB_FUNCS["push_unseen"], delivery.id))
    if queued:
        log.info("reconciler queued %d jobs", queued)
    return queued
