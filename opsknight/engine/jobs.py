"""RQ entry points. Each takes ids, re-reads and locks its row in the database, and does nothing if the work is
already done, so running a job twice (a reconciler re-enqueue, an RQ retry) is harmless. Follow-up jobs are
decided inside the transaction and enqueued only after it commits, under deterministic job ids."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from collections.abc import Callable

import redis
from sqlmodel import Session, select

from opsknight import broker
from opsknight.db import session_scope
from opsknight.engine import clock, dispatch, process
from opsknight.engine.dispatch import JobSpec
from opsknight.engine.ingest import PROCESS_INCIDENT
from opsknight.models import Incident, IncidentStatus, OutboxJob

log = logging.getLogger(__name__)

# RQ keeps scheduled times in whole seconds (rounded down), so a timer job may run up to a second early; turning
# it away would leave the page to the reconciler, seconds later.
EARLY_TOLERANCE = timedelta(seconds=1)

# kind -> handler(db, outbox_row) -> follow-up jobs. Handlers run inside the row's transaction, idempotently.
OUTBOX_HANDLERS: dict[str, Callable[[Session, OutboxJob], list[JobSpec]]] = {
    PROCESS_INCIDENT: process.process_incident,
}


def outbox_job_id(outbox_id: int) -> str:
    """Deterministic RQ job id, so the ingest path and the reconciler never queue the same row twice."""
    return f"outbox-{outbox_id}"


def enqueue_specs(specs: list[JobSpec]) -> None:
    """Enqueue follow-up jobs (after commit). A failure is logged: the reconciler rebuilds them from the rows."""
    now = clock.now()
    try:
        urgent = broker.queue("urgent")
        for spec in specs:
            func = JOB_FUNCS[spec.func]
            if spec.at is not None and spec.at > now:
                urgent.enqueue_at(spec.at, func, *spec.args, job_id=spec.job_id, result_ttl=600, failure_ttl=86400)
            else:
                urgent.enqueue(func, *spec.args, job_id=spec.job_id, result_ttl=600, failure_ttl=86400)
    except redis.RedisError as exc:
        log.warning("enqueue of %d follow-up jobs failed (the reconciler will redo them): %s", len(specs), exc)


def process_outbox(outbox_id: int) -> str:
    """Run the handler of one outbox row, exactly once."""
    specs: list[JobSpec] = []
    with session_scope() as db:
        row = db.exec(select(OutboxJob).where(OutboxJob.id == outbox_id).with_for_update(skip_locked=True)).first()
        if row is None:
            return "missing-or-locked"
        if row.processed_at is not None:
            return "already-done"
        handler = OUTBOX_HANDLERS.get(row.kind)
        row.attempts += 1
        if handler is None:
            row.last_error = f"no handler for outbox kind {row.kind!r}"
            log.error(row.last_error)
            return "no-handler"
        specs = handler(db, row) or []
        row.processed_at = clock.now()
        row.last_error = None
        db.add(row)
        incident_id = row.incident_id
    enqueue_specs(specs)
    if incident_id is not None:  # the policy applied, who is paged: the incident page shows it
        broker.publish_incidents_changed([incident_id], status_page=False)
    return "done"


@functools.lru_cache(maxsize=1)
def channel_registry() -> dict:
    """The configured channel adapters (SDK clients are built once per process; tests clear this cache).

    Web push needs no configuration: without OPSKNIGHT_VAPID_PRIVATE_KEY the key pair is generated on first use
    and stored, and the VAPID subject defaults to the admin's address.
    """
    import os

    from opsknight.config import settings
    from opsknight.engine import vapid
    from opsknight.engine.channels import build_channels
    from opsknight.engine.channels.push import subject_acceptable

    env = dict(os.environ)
    with session_scope() as db:
        env["OPSKNIGHT_VAPID_PRIVATE_KEY"] = vapid.stored_private_key(db)
    if "OPSKNIGHT_VAPID_SUBJECT" not in env:  # not chosen: the admin's address, if push services would take it
        chosen = f"mailto:{settings().admin_email}"
        env["OPSKNIGHT_VAPID_SUBJECT"] = chosen if subject_acceptable(chosen) else "mailto:admin@opsknight.invalid"
    return build_channels(env)


def send_delivery(delivery_id: int) -> str:
    """Send one delivery: claim it, call the channel outside any transaction, record the outcome."""
    from opsknight.config import settings
    from opsknight.engine import acks

    now = clock.now()
    with session_scope() as db:
        claimed = dispatch.claim(db, delivery_id, now, settings().base_url, acks.links)
    if isinstance(claimed, JobSpec):
        enqueue_specs([claimed])
        return "deferred"
    if isinstance(claimed, str):
        return claimed
    outcome, provider_id, error = dispatch.deliver(claimed, channel_registry())
    with session_scope() as db:
        follow_up = dispatch.record(db, claimed, outcome, provider_id, error, clock.now())
    enqueue_specs(follow_up)
    broker.publish_incidents_changed([claimed.page.incident_id], status_page=False)
    return outcome


def push_unseen(delivery_id: int) -> str:
    """A push's rule asked for it to be shown within its time (counted from its first try); if the service worker
    has not said it was — sent but unseen, or still retrying — the user's next rule runs now. Runs once per push
    (`shown_by` is cleared); a job lost with Redis is queued again by the reconciler from `shown_by`."""
    from opsknight.models import Delivery, NotificationRule

    now = clock.now()
    with session_scope() as db:
        delivery = db.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update()).first()
        if delivery is None or delivery.shown_by is None:
            return "nothing to check"
        if delivery.shown_by > now + EARLY_TOLERANCE:
            return "not-due"
        rule = db.get(NotificationRule, delivery.notification_rule_id) if delivery.notification_rule_id else None
        seconds = rule.fallthrough_seconds if rule else "its"
        delivery.shown_by = None  # checked: once
        db.add(delivery)
        if delivery.displayed_at is not None:
            return "shown"
        who = dispatch.person_name(db, delivery.user_id)
        specs = dispatch.hurry_next(db, delivery, now, f"Push to {who} not shown within {seconds} s")
    enqueue_specs(specs)
    broker.publish_incidents_changed([delivery.incident_id], status_page=False)
    return "next rule now" if specs else "nothing next"


def escalate(incident_id: int) -> str:
    """The escalation timer fired: move on if the incident is still unacknowledged and the timer is due."""
    now = clock.now()
    specs: list[JobSpec] = []
    with session_scope() as db:
        incident = db.exec(select(Incident).where(Incident.id == incident_id).with_for_update()).first()
        if incident is None or incident.next_escalation_at is None or incident.status == IncidentStatus.RESOLVED:
            return "nothing-due"
        if incident.next_escalation_at > now + EARLY_TOLERANCE:
            return "not-due"
        specs = process.on_timer(db, incident, now)
    enqueue_specs(specs)
    broker.publish_incidents_changed([incident_id], status_page=False)
    return "escalated"


JOB_FUNCS: dict[str, Callable] = {"send_delivery": send_delivery, "escalate": escalate, "push_unseen": push_unseen}
