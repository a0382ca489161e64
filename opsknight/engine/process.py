"""Starting and moving an incident's escalation: the `process_incident` outbox handler and the timer.

`process_incident` freezes the service's escalation policy onto the incident (so editing a policy mid-incident
is predictable), then pages step 1. A service without a policy is flagged loudly: a timeline event and a metric,
never silence. `on_timer` runs when `next_escalation_at` is due: it ends a snooze (paging again from step 1) or
moves an unacknowledged incident to the next step.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from opsknight.engine import clock, dispatch, escalation
from opsknight.engine.dispatch import JobSpec, timeline
from opsknight.models import (
    Delivery, EscalationPolicy, EscalationStep, EscalationStepTarget, Incident, IncidentStatus, OutboxJob, Service,
    TimelineKind,
)



def policy_snapshot(db: Session, policy: EscalationPolicy) -> dict:
    """The policy as plain data: steps in order with their delays and targets."""
    steps = db.exec(select(EscalationStep).where(EscalationStep.policy_id == policy.id)
                    .order_by(EscalationStep.position)).all()
    targets = db.exec(select(EscalationStepTarget).where(
        EscalationStepTarget.step_id.in_([s.id for s in steps] or [-1]))).all()
    by_step: dict[int, list[dict]] = {}
    for target in targets:
        by_step.setdefault(target.step_id, []).append({"type": target.target_type, "id": target.target_id})
    return {
        "policy_id": policy.id, "name": policy.name, "repeat_count": policy.repeat_count,
        "escalate_low_urgency": policy.escalate_low_urgency,
        "steps": [{"delay_minutes": s.delay_minutes,
                   "targets": sorted(by_step.get(s.id, []), key=lambda t: (t["type"], t["id"]))} for s in steps],
    }


def process_incident(db: Session, row: OutboxJob) -> list[JobSpec]:
    incident = db.exec(select(Incident).where(Incident.id == row.incident_id).with_for_update()).first()
    if incident is None or incident.status == IncidentStatus.RESOLVED or incident.escalation_policy_snapshot:
        return []  # gone, over, or already processed: nothing to do
    service = db.get(Service, incident.service_id)
    now = clock.now()
    # FOR SHARE: saving a policy rewrites its steps under FOR UPDATE of this row (admin.policies); waiting for that
    # save to commit means the frozen copy is the old policy or the new one, never old steps without their targets.
    policy = db.exec(select(EscalationPolicy).where(EscalationPolicy.id == service.escalation_policy_id)
                     .with_for_update(read=True)).first() if service.escalation_policy_id else None
    if policy is None:
        dispatch.NOBODY_PAGED.labels("no_policy").inc()
        timeline(db, incident.id, TimelineKind.NOBODY_ON_CALL, now,
                 f"Service '{service.name}' has no escalation policy: nobody can be paged")
        return []
    snapshot = policy_snapshot(db, policy)
    incident.escalation_policy_snapshot = snapshot
    incident.escalation_generation += 1  # a reassignment before processing may have started generation 1
    timeline(db, incident.id, TimelineKind.POLICY_APPLIED, now,
             f"Escalation policy '{policy.name}' applied ({len(snapshot['steps'])} steps)", {"policy_id": policy.id})
    if incident.status != IncidentStatus.TRIGGERED:
        return []  # acknowledged before we got here (e.g. by Events v2): the policy is kept, nobody is paged
    return dispatch.enter_position(db, incident, escalation.FIRST, now)


def restart(db: Session, incident: Incident, now: datetime, why: str) -> list[JobSpec]:
    """Page again from step 1 under a new generation (snooze ended, re-triggered by hand)."""
    incident.status = IncidentStatus.TRIGGERED
    incident.snoozed_until = None
    incident.escalation_generation += 1
    timeline(db, incident.id, TimelineKind.ESCALATED, now, why, {"generation": incident.escalation_generation})
    return dispatch.enter_position(db, incident, escalation.FIRST, now)


def _paged_anyone(db: Session, incident: Incident) -> bool:
    return db.exec(select(Delivery.id).where(Delivery.incident_id == incident.id,
                                             Delivery.escalation_generation == incident.escalation_generation)
                   .limit(1)).first() is not None


def on_timer(db: Session, incident: Incident, now: datetime) -> list[JobSpec]:
    """The (locked) incident's timer is due."""
    if incident.status == IncidentStatus.ACKNOWLEDGED and incident.snoozed_until is not None:
        return restart(db, incident, now, "Snooze ended: paging again")
    if incident.status != IncidentStatus.TRIGGERED or not incident.escalation_policy_snapshot:
        incident.next_escalation_at = None
        db.add(incident)
        return []
    position = escalation.Position(incident.escalation_step, incident.escalation_repeat)
    following = escalation.next_position(incident.escalation_policy_snapshot, position, incident.urgency)
    if following is None and not _paged_anyone(db, incident):
        return dispatch.enter_position(db, incident, escalation.FIRST, now)  # found nobody before: look again
    if following is None:
        incident.next_escalation_at = None
        db.add(incident)
        timeline(db, incident.id, TimelineKind.ESCALATED, now, "Escalation policy exhausted: no further steps")
        return []
    return dispatch.enter_position(db, incident, following, now)
