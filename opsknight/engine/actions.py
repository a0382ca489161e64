"""What people do to incidents: acknowledge, resolve, snooze, escalate now, reassign.

Every inbound path — the web UI, the REST API, Slack buttons, SMS/WhatsApp replies, the email link and the push
notification's action — ends in these functions. Each locks the incident row, checks the transition makes
sense, records who did it and how on the timeline, and returns the follow-up jobs to enqueue after commit.
`perform()` wraps one call in a transaction and does the after-commit work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session, select

from opsknight import broker
from opsknight.db import session_scope
from opsknight.engine import clock, dispatch, escalation
from opsknight.engine.dispatch import JobSpec, timeline
from opsknight.models import Incident, IncidentStatus, TimelineKind, User, UserStatus

MAX_SNOOZE = timedelta(days=7)


class ActionError(ValueError):
    """The action does not apply (unknown incident, already resolved, ...). The message is safe to show."""


def _locked(db: Session, incident_id: int) -> Incident:
    incident = db.exec(select(Incident).where(Incident.id == incident_id).with_for_update()).first()
    if incident is None:
        raise ActionError(f"No incident {incident_id}")
    return incident


def _actor(db: Session, user_id: int | None) -> str:
    user = db.get(User, user_id) if user_id else None
    return user.name if user else "someone"


def incident_id_by_number(db: Session, number: int) -> int | None:
    return db.exec(select(Incident.id).where(Incident.number == number)).first()


def acknowledge(db: Session, incident_id: int, *, user_id: int | None, via: str, now: datetime) -> list[JobSpec]:
    incident = _locked(db, incident_id)
    if incident.status != IncidentStatus.TRIGGERED:
        return []  # acknowledging twice (two people tapping at once) is fine and changes nothing
    incident.status = IncidentStatus.ACKNOWLEDGED
    incident.acknowledged_at, incident.acknowledged_by_id, incident.acknowledged_via = now, user_id, via
    incident.next_escalation_at, incident.updated_at = None, now
    db.add(incident)
    timeline(db, incident.id, TimelineKind.ACKNOWLEDGED, now, f"Acknowledged by {_actor(db, user_id)} via {via}",
             actor_user_id=user_id, source=via)
    return []


def resolve(db: Session, incident_id: int, *, user_id: int | None, via: str, now: datetime) -> list[JobSpec]:
    incident = _locked(db, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        return []
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at, incident.resolved_by_id, incident.resolved_by_source = now, user_id, via
    incident.next_escalation_at, incident.snoozed_until, incident.updated_at = None, None, now
    db.add(incident)
    timeline(db, incident.id, TimelineKind.RESOLVED, now, f"Resolved by {_actor(db, user_id)} via {via}",
             actor_user_id=user_id, source=via)
    return []


def snooze(db: Session, incident_id: int, *, user_id: int | None, until: datetime, via: str,
           now: datetime) -> list[JobSpec]:
    """Pause paging until `until`, then page again from step 1."""
    if until <= now or until - now > MAX_SNOOZE:
        raise ActionError("Snooze for between a minute and 7 days")
    incident = _locked(db, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise ActionError("A resolved incident cannot be snoozed")
    if incident.status == IncidentStatus.TRIGGERED:
        incident.acknowledged_at, incident.acknowledged_by_id, incident.acknowledged_via = now, user_id, via
    incident.status = IncidentStatus.ACKNOWLEDGED
    incident.snoozed_until = incident.next_escalation_at = until
    incident.updated_at = now
    db.add(incident)
    timeline(db, incident.id, TimelineKind.SNOOZED, now,
             f"Snoozed by {_actor(db, user_id)} until {until.isoformat(timespec='minutes')}",
             {"until": until.isoformat()}, actor_user_id=user_id, source=via)
    return [dispatch.escalate_job(incident)]


def escalate_now(db: Session, incident_id: int, *, user_id: int | None, via: str, now: datetime) -> list[JobSpec]:
    """Page the next step at once (re-triggering an acknowledged incident), under a new generation."""
    incident = _locked(db, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise ActionError("A resolved incident cannot be escalated")
    snapshot = incident.escalation_policy_snapshot
    if not snapshot:
        raise ActionError("This incident has no escalation policy to escalate along")
    current = escalation.Position(incident.escalation_step, incident.escalation_repeat)
    target = escalation.next_position(snapshot, current, "high") or current
    incident.status, incident.snoozed_until = IncidentStatus.TRIGGERED, None
    incident.escalation_generation += 1
    timeline(db, incident.id, TimelineKind.ESCALATED, now, f"Escalated by hand by {_actor(db, user_id)}",
             actor_user_id=user_id, source=via)
    return dispatch.enter_position(db, incident, target, now)


def reassign(db: Session, incident_id: int, *, to_user_id: int, user_id: int | None, via: str,
             now: datetime) -> list[JobSpec]:
    """Make `to_user_id` the assignee and page them now (the escalation timer keeps running)."""
    incident = _locked(db, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise ActionError("A resolved incident cannot be reassigned")
    assignee = db.get(User, to_user_id)
    if assignee is None or assignee.status != UserStatus.ACTIVE:
        raise ActionError("Reassign to an active user")
    incident.assignee_id, incident.status, incident.snoozed_until = assignee.id, IncidentStatus.TRIGGERED, None
    incident.escalation_generation += 1
    incident.updated_at = now
    db.add(incident)
    timeline(db, incident.id, TimelineKind.REASSIGNED, now,
             f"Reassigned to {assignee.name} by {_actor(db, user_id)}", {"to_user_id": assignee.id},
             actor_user_id=user_id, source=via)
    jobs = dispatch.page_users(db, incident, [assignee], now, f"reassign{incident.escalation_generation}")
    if incident.escalation_policy_snapshot:
        position = escalation.Position(incident.escalation_step, incident.escalation_repeat)
        incident.next_escalation_at = escalation.escalation_due(incident.escalation_policy_snapshot, position,
                                                                incident.urgency, now)
        if incident.next_escalation_at:
            jobs.append(dispatch.escalate_job(incident))
    return jobs


def perform(action: Callable[..., list[JobSpec]], incident_id: int, **kwargs) -> None:
    """Run one action in its own transaction, then enqueue its jobs and tell live dashboards."""
    from opsknight.engine.jobs import enqueue_specs

    with session_scope() as db:
        specs = action(db, incident_id, now=clock.now(), **kwargs)
    enqueue_specs(specs)
    broker.publish_incidents_changed([incident_id])
