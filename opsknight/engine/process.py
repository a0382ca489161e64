"""The `process_incident` outbox handler: the first thing the worker does with a new incident.

It freezes the service's escalation policy onto the incident (so editing a policy mid-incident is
predictable) and records on the timeline what will page whom. A service without a policy is flagged loudly:
a timeline event and a metric, never silence.
"""

from __future__ import annotations

from prometheus_client import Counter
from sqlmodel import Session, select

from opsknight.engine import clock
from opsknight.models import (
    EscalationPolicy, EscalationStep, EscalationStepTarget, Incident, IncidentStatus, OutboxJob, Service,
    TimelineEvent, TimelineKind,
)

NOBODY_PAGED = Counter("opsknight_incidents_paging_nobody_total",
                       "Incidents whose service has no escalation policy, so nobody can be paged")


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


def process_incident(db: Session, row: OutboxJob) -> None:
    incident = db.exec(select(Incident).where(Incident.id == row.incident_id).with_for_update()).first()
    if incident is None or incident.status == IncidentStatus.RESOLVED or incident.escalation_policy_snapshot:
        return  # gone, over, or already processed: nothing to do
    service = db.get(Service, incident.service_id)
    now = clock.now()
    policy = db.get(EscalationPolicy, service.escalation_policy_id) if service.escalation_policy_id else None
    if policy is None:
        NOBODY_PAGED.inc()
        db.add(TimelineEvent(incident_id=incident.id, kind=TimelineKind.NOBODY_ON_CALL, at=now, source="opsknight",
                             message=f"Service '{service.name}' has no escalation policy: nobody can be paged"))
        return
    snapshot = policy_snapshot(db, policy)
    incident.escalation_policy_snapshot = snapshot
    incident.updated_at = now
    db.add(incident)
    db.add(TimelineEvent(incident_id=incident.id, kind=TimelineKind.POLICY_APPLIED, at=now, source="opsknight",
                         message=f"Escalation policy '{policy.name}' applied ({len(snapshot['steps'])} steps)",
                         data={"policy_id": policy.id}))
