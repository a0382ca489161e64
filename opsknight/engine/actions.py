"""What people do to incidents: acknowledge, resolve, snooze, escalate now, reassign, add responders, change the
urgency, add a note, merge.

Every inbound path — the web UI, the REST API, Slack buttons, SMS/WhatsApp replies, the email link and the push
notification's action — ends in these functions. Each locks the incident row, checks the transition makes
sense, records who did it and how on the timeline, and returns the follow-up jobs to enqueue after commit.
`perform()` wraps one call in a transaction and does the after-commit work (jobs, and telling live pages).

An action that finds the work already done by someone else (two people tapping Acknowledge at once) raises
`AlreadyDone`, whose message says who and when ("Ann acknowledged this 3 s ago"): the API answers it as a
success, a chat reply or a page shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from opsknight import broker
from opsknight.db import session_scope
from opsknight.engine import clock, dispatch, escalation
from opsknight.engine.dispatch import JobSpec, timeline
from opsknight.models import (
    Alert, Delivery, EscalationPolicy, Incident, IncidentStatus, Note, Schedule, TimelineKind, Urgency, User,
    UserStatus,
)

MAX_SNOOZE = timedelta(days=7)
MAX_NOTE = 10_000


class ActionError(ValueError):
    """The action does not apply (unknown incident, already resolved, ...). The message is safe to show."""


class AlreadyDone(ActionError):
    """Someone else did this first; the message says who and when. Nothing changed."""


class NotFoundError(ActionError):
    """The incident, or a user, schedule or policy the action names, does not exist."""


def _locked(db: Session, incident_id: int) -> Incident:
    incident = db.exec(select(Incident).where(Incident.id == incident_id).with_for_update()).first()
    if incident is None:
        raise NotFoundError(f"No incident {incident_id}")
    return incident


def _actor(db: Session, user_id: int | None) -> str:
    user = db.get(User, user_id) if user_id else None
    return user.name if user else "someone"


def ago(then: datetime | None, now: datetime) -> str:
    """"3 s ago", "4 min ago", "2 h ago", "5 d ago"."""
    if then is None:
        return "earlier"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _already(db: Session, incident: Incident, now: datetime) -> AlreadyDone:
    if incident.status == IncidentStatus.RESOLVED:
        who = _actor(db, incident.resolved_by_id) if incident.resolved_by_id else (incident.resolved_by_source
                                                                                   or "someone")
        return AlreadyDone(f"{who} resolved this {ago(incident.resolved_at, now)}")
    return AlreadyDone(f"{_actor(db, incident.acknowledged_by_id)} acknowledged this "
                       f"{ago(incident.acknowledged_at, now)}")


def incident_id_by_number(db: Session, number: int) -> int | None:
    return db.exec(select(Incident.id).where(Incident.number == number)).first()


def acknowledge(db: Session, incident_id: int, *, user_id: int | None, via: str, now: datetime) -> list[JobSpec]:
    incident = _locked(db, incident_id)
    if incident.status != IncidentStatus.TRIGGERED:
        raise _already(db, incident, now)  # two people tapping at once: the second changes nothing
    incident.status = IncidentStatus.ACKNOWLEDGED
    incident.acknowledged_at, incident.acknowledged_by_id, incident.acknowledged_via = now, user_id, via
    incident.next_escalation_at, incident.updated_at = None, now
    db.add(incident)
    timeline(db, incident.id, TimelineKind.ACKNOWLEDGED, now, f"Acknowledged by {_actor(db, user_id)} via {via}",
             actor_user_id=user_id, source=via)
    return []


def resolve(db: Session, incident_id: int, *, user_id: int | None, via: str, now: datetime,
            note: str = "") -> list[JobSpec]:
    """Resolve; a resolution note, if given, goes on the timeline and into the notes."""
    incident = _locked(db, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise _already(db, incident, now)
    _resolve(db, incident, user_id=user_id, source=via, now=now,
             message=f"Resolved by {_actor(db, user_id)} via {via}" + (f": {note[:500]}" if note else ""))
    if note:
        db.add(Note(incident_id=incident.id, author_id=user_id, body=note[:MAX_NOTE], created_at=now))
    return []


def _resolve(db: Session, incident: Incident, *, user_id: int | None, source: str, now: datetime,
             message: str, data: dict | None = None) -> None:
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at, incident.resolved_by_id, incident.resolved_by_source = now, user_id, source
    incident.next_escalation_at, incident.snoozed_until, incident.updated_at = None, None, now
    db.add(incident)
    timeline(db, incident.id, TimelineKind.RESOLVED, now, message, data, actor_user_id=user_id, source=source)


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


RESPONDER_TARGETS = ("user", "schedule", "escalation_policy")


def add_responders(db: Session, incident_id: int, *, target_type: str, target_id: int, user_id: int | None,
                   via: str, now: datetime) -> list[JobSpec]:
    """Page more people now — a user, whoever is on call in a schedule, or a policy's first step — keeping the
    assignee and the escalation as they are. Their pages go out while the incident is open, acknowledged or not."""
    incident = _locked(db, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise ActionError("A resolved incident needs no more responders")
    if target_type == "escalation_policy":
        policy = db.get(EscalationPolicy, target_id)
        if policy is None:
            raise NotFoundError(f"No escalation policy {target_id}")
        from opsknight.engine.process import policy_snapshot

        snapshot = policy_snapshot(db, policy)
        targets = escalation.step_targets(snapshot, escalation.FIRST) if snapshot["steps"] else []
        label = f"policy {policy.name}"
    elif target_type == "schedule":
        schedule = db.get(Schedule, target_id)
        if schedule is None:
            raise NotFoundError(f"No schedule {target_id}")
        targets, label = [{"type": "schedule", "id": target_id}], f"schedule {schedule.name}"
    elif target_type == "user":
        targets, label = [{"type": "user", "id": target_id}], ""
    else:
        raise ActionError(f"Add a responder by {', '.join(RESPONDER_TARGETS)}")
    users = dispatch.resolve_targets(db, targets, now)
    if not users:
        raise ActionError(f"Nobody to page: {label or 'that user'} resolves to no active person right now")
    requests = db.exec(select(Delivery.id).where(Delivery.incident_id == incident.id,
                                                 Delivery.responder_request.is_(True))).all()
    tag = f"responder{len(requests)}-{int(now.timestamp())}"
    # Asked for help by a person: planned as high urgency whatever the incident's, so rules for high urgency
    # only (the usual "SMS when it matters") reach them on a low-urgency incident too.
    jobs = dispatch.page_users(db, incident, users, now, tag, responder_request=True, urgency=Urgency.HIGH)
    names = ", ".join(u.name for u in users)
    if not jobs:
        raise ActionError(f"Nobody could be paged: {names} {'has' if len(users) == 1 else 'have'} no usable "
                          "contact method")
    timeline(db, incident.id, TimelineKind.RESPONDERS_ADDED, now,
             f"{_actor(db, user_id)} asked {names} to help" + (f" (via {label})" if label else ""),
             {"user_ids": [u.id for u in users], "target": {"type": target_type, "id": target_id}},
             actor_user_id=user_id, source=via)
    incident.updated_at = now
    db.add(incident)
    return jobs


def change_urgency(db: Session, incident_id: int, *, urgency: str, user_id: int | None, via: str,
                   now: datetime) -> list[JobSpec]:
    """Set the urgency. Raised on a triggered incident, the current step is paged again as high urgency, and the
    step timer starts if low urgency did not escalate."""
    if urgency not in (Urgency.HIGH, Urgency.LOW):
        raise ActionError("Urgency is high or low")
    incident = _locked(db, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise ActionError("A resolved incident's urgency cannot change")
    if incident.urgency == urgency:
        raise AlreadyDone(f"The urgency is {urgency} already")
    before, incident.urgency, incident.updated_at = incident.urgency, urgency, now
    timeline(db, incident.id, TimelineKind.URGENCY_CHANGED, now,
             f"Urgency changed from {before} to {urgency} by {_actor(db, user_id)}", {"from": before, "to": urgency},
             actor_user_id=user_id, source=via)
    db.add(incident)
    snapshot = incident.escalation_policy_snapshot
    if urgency != Urgency.HIGH or incident.status != IncidentStatus.TRIGGERED or not escalation.steps(snapshot or {}):
        return []  # lowering it leaves the timer be: the escalate job applies the new urgency when it fires
    # Raised while triggered: the current step's people got only what their low-urgency rules send (perhaps
    # nothing). Page them as high urgency now, and start escalating if low urgency did not.
    position = escalation.Position(incident.escalation_step, incident.escalation_repeat)
    users = dispatch.resolve_targets(db, escalation.step_targets(snapshot, position), now)
    tag = f"s{position.step}r{position.repeat}-high{int(now.timestamp())}"
    jobs = dispatch.page_users(db, incident, users, now, tag)
    if incident.next_escalation_at is None:
        incident.next_escalation_at = escalation.escalation_due(snapshot, position, urgency, now)
        if incident.next_escalation_at is not None:
            jobs.append(dispatch.escalate_job(incident))
    return jobs


def add_note(db: Session, incident_id: int, *, body: str, user_id: int | None, via: str, now: datetime) -> Note:
    """A note on the incident's timeline (any status: a post-mortem note after resolving is common)."""
    body = body.strip()
    if not body or len(body) > MAX_NOTE:
        raise ActionError(f"A note has 1 to {MAX_NOTE} characters")
    if db.get(Incident, incident_id) is None:
        raise NotFoundError(f"No incident {incident_id}")
    note = Note(incident_id=incident_id, author_id=user_id, body=body, created_at=now)
    db.add(note)
    timeline(db, incident_id, TimelineKind.NOTE, now, f"Note by {_actor(db, user_id)}: {body[:500]}",
             {"note": True}, actor_user_id=user_id, source=via)
    db.flush()
    return note


def merge(db: Session, incident_id: int, *, into_id: int, user_id: int | None, via: str,
          now: datetime) -> list[JobSpec]:
    """Move this incident's alerts to the open incident `into_id` and resolve this one as merged; both timelines
    say so. The target keeps paging as it was."""
    if into_id == incident_id:
        raise ActionError("An incident cannot be merged into itself")
    first, second = sorted((incident_id, into_id))  # lock in id order: two opposite merges cannot deadlock
    locked = {first: _locked(db, first), second: _locked(db, second)}
    source, target = locked[incident_id], locked[into_id]
    if source.status == IncidentStatus.RESOLVED:
        raise _already(db, source, now)
    if target.status == IncidentStatus.RESOLVED:
        raise ActionError(f"#{target.number} is resolved: merge into an open incident")
    moved = db.exec(update(Alert).where(Alert.incident_id == source.id).values(incident_id=target.id)).rowcount
    target.alert_count += max(moved, 0)
    target.last_alert_at = max(filter(None, (target.last_alert_at, source.last_alert_at)), default=None)
    target.updated_at = now
    source.merged_into_id = target.id
    db.add(target)
    who = _actor(db, user_id)
    _resolve(db, source, user_id=user_id, source="merged", now=now,
             message=f"Merged into #{target.number} by {who} ({moved} alerts moved)",
             data={"merged_into_id": target.id})
    timeline(db, target.id, TimelineKind.MERGED, now,
             f"#{source.number} ({source.title[:200]}) merged into this by {who}: {moved} alerts moved here",
             {"merged_from_id": source.id}, actor_user_id=user_id, source=via)
    return []


def perform(action: Callable[..., list[JobSpec]], incident_id: int, **kwargs) -> None:
    """Run one action in its own transaction, then enqueue its jobs and tell live pages about every incident
    it touched (a merge changes two)."""
    from opsknight.engine.jobs import enqueue_specs

    with session_scope() as db:
        specs = action(db, incident_id, now=clock.now(), **kwargs)
    enqueue_specs(specs)
    broker.publish_incidents_changed([incident_id, *([kwargs["into_id"]] if "into_id" in kwargs else [])])
