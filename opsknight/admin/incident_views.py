"""Reading incidents: the dashboard's list (filters, counts per status, cursor pages) and one incident with its
alerts, notes and full timeline. The REST API and the pages both read through here.

Each function runs a fixed number of statements whatever the page size (no query per row): the list is one
joined SELECT plus one for the counts (and one for "paging me" names), the detail a handful.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from opsknight.accounts import Principal
from opsknight.admin import NotFound, authorize, contacts
from opsknight.models import Alert, Delivery, Incident, IncidentStatus, Note, Service, Team, TimelineEvent, User
from opsknight.permissions import Permission

STATUSES = ("triggered", "acknowledged", "resolved")
VIEWS = ("open", "triggered", "acknowledged", "resolved", "all")  # the dashboard's tabs; "open" = not resolved
MAX_LIMIT = 200
ALERTS_SHOWN = 50
TIMELINE_SHOWN = 1000
_RANK_SPAN = 2**31  # a cursor is rank * _RANK_SPAN + id: one opaque integer for (status rank, id)


@dataclass(frozen=True)
class IncidentFilter:
    """What the dashboard (or `GET /api/v1/incidents`) asks for. `view` is a tab of VIEWS; `statuses`, when given,
    overrides it (the REST API's repeated `status=`)."""

    view: str = "all"
    statuses: tuple[str, ...] = ()
    service_id: int | None = None
    team_id: int | None = None
    urgency: str | None = None
    mine: bool = False
    text: str = ""

    def wanted_statuses(self) -> tuple[str, ...]:
        if self.statuses:
            return self.statuses
        return {"open": ("triggered", "acknowledged"), "all": STATUSES}.get(self.view, (self.view,))


@dataclass
class IncidentPage:
    rows: list[dict[str, Any]]
    next_cursor: int | None
    counts: dict[str, int] = field(default_factory=dict)  # per status, under every filter but the status


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


_rank = case((Incident.status == IncidentStatus.TRIGGERED, 0), (Incident.status == IncidentStatus.ACKNOWLEDGED, 1),
             else_=2)


def _filtered(query, flt: IncidentFilter, me: int | None):
    """`query` narrowed by everything in `flt` except the status."""
    if flt.service_id is not None:
        query = query.where(Incident.service_id == flt.service_id)
    if flt.team_id is not None:
        query = query.where(Service.team_id == flt.team_id)
    if flt.urgency:
        query = query.where(Incident.urgency == flt.urgency)
    if flt.mine and me is not None:
        paging_me = exists().where(Delivery.incident_id == Incident.id, Delivery.user_id == me,
                                   or_(Delivery.escalation_generation == Incident.escalation_generation,
                                       Delivery.responder_request.is_(True)))
        query = query.where(or_(Incident.assignee_id == me, Incident.acknowledged_by_id == me,
                                and_(Incident.status != IncidentStatus.RESOLVED, paging_me)))
    text = flt.text.strip()
    if text:
        number = re.fullmatch(r"#?(\d{1,9})", text)
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = [Incident.title.ilike(pattern, escape="\\"), Service.name.ilike(pattern, escape="\\")]
        if number:
            matches.append(Incident.number == int(number[1]))
        query = query.where(or_(*matches))
    return query


def list_incidents(db: Session, actor: Principal | None, flt: IncidentFilter, *, cursor: int | None = None,
                   limit: int = 50, with_counts: bool = True) -> IncidentPage:
    """Open incidents first (triggered, then acknowledged, then resolved), newest first within each; `cursor` is
    the previous page's `next_cursor`."""
    actor = authorize(actor, Permission.READ)
    limit = max(1, min(limit, MAX_LIMIT))
    assignee, acker = aliased(User), aliased(User)
    query = (select(Incident, Service.name, Service.team_id, Team.name, assignee.name, acker.name, _rank.label("rank"))
             .join(Service, Service.id == Incident.service_id)
             .join(Team, Team.id == Service.team_id, isouter=True)
             .join(assignee, assignee.id == Incident.assignee_id, isouter=True)
             .join(acker, acker.id == Incident.acknowledged_by_id, isouter=True))
    query = _filtered(query, flt, actor.user_id).where(Incident.status.in_(flt.wanted_statuses()))
    if cursor is not None:
        rank, last_id = divmod(cursor, _RANK_SPAN)
        query = query.where(or_(_rank > rank, and_(_rank == rank, Incident.id < last_id)))
    found = db.exec(query.order_by(_rank, Incident.id.desc()).limit(limit + 1)).all()
    page = found[:limit]
    rows = [incident_row(i, service, team_id, team, assignee_name, acker_name)
            for i, service, team_id, team, assignee_name, acker_name, _ in page]
    next_cursor = None
    if len(found) > limit:
        last = page[-1]
        next_cursor = last[-1] * _RANK_SPAN + last[0].id
    counts = status_counts(db, flt, actor.user_id) if with_counts else {}
    return IncidentPage(rows, next_cursor, counts)


def status_counts(db: Session, flt: IncidentFilter, me: int | None) -> dict[str, int]:
    query = select(Incident.status, func.count()).join(Service, Service.id == Incident.service_id)
    found = dict(db.exec(_filtered(query, flt, me).group_by(Incident.status)).all())
    return {status: found.get(status, 0) for status in STATUSES}


def incident_row(incident: Incident, service_name: str, team_id: int | None = None, team_name: str | None = None,
                 assignee_name: str | None = None, acknowledged_by_name: str | None = None) -> dict[str, Any]:
    """One incident as the API and the pages show it in a list."""
    return {
        "id": incident.id, "number": incident.number, "title": incident.title, "status": incident.status,
        "urgency": incident.urgency,
        "service": {"id": incident.service_id, "name": service_name},
        "team": {"id": team_id, "name": team_name} if team_id else None,
        "dedup_key": incident.dedup_key, "alert_count": incident.alert_count,
        "assignee_id": incident.assignee_id, "assignee_name": assignee_name,
        "created_at": _iso(incident.created_at), "updated_at": _iso(incident.updated_at),
        "last_alert_at": _iso(incident.last_alert_at),
        "acknowledged_at": _iso(incident.acknowledged_at), "acknowledged_by_id": incident.acknowledged_by_id,
        "acknowledged_by_name": acknowledged_by_name, "acknowledged_via": incident.acknowledged_via,
        "resolved_at": _iso(incident.resolved_at), "resolved_by_id": incident.resolved_by_id,
        "resolved_by_source": incident.resolved_by_source, "snoozed_until": _iso(incident.snoozed_until),
        "escalation_step": incident.escalation_step, "next_escalation_at": _iso(incident.next_escalation_at),
        "merged_into_id": incident.merged_into_id,
    }


def get_incident(db: Session, actor: Principal | None, incident_id: int) -> dict[str, Any]:
    """One incident: its row, the people named on it, its alerts (newest ALERTS_SHOWN, and how many in all), its
    notes, and the timeline — events and every notification attempt (channel, recipient, outcome), in order."""
    authorize(actor, Permission.READ)
    assignee, acker, resolver = aliased(User), aliased(User), aliased(User)
    found = db.exec(select(Incident, Service.name, Service.team_id, Team.name, assignee.name, acker.name,
                           resolver.name)
                    .join(Service, Service.id == Incident.service_id)
                    .join(Team, Team.id == Service.team_id, isouter=True)
                    .join(assignee, assignee.id == Incident.assignee_id, isouter=True)
                    .join(acker, acker.id == Incident.acknowledged_by_id, isouter=True)
                    .join(resolver, resolver.id == Incident.resolved_by_id, isouter=True)
                    .where(Incident.id == incident_id)).first() if 1 <= incident_id < 2**31 else None
    if found is None:
        raise NotFound(f"No incident {incident_id}")
    incident, service, team_id, team, assignee_name, acker_name, resolver_name = found
    alerts = db.exec(select(Alert).where(Alert.incident_id == incident.id)
                     .order_by(Alert.received_at.desc(), Alert.id.desc()).limit(ALERTS_SHOWN)).all()
    alert_total = db.exec(select(func.count()).select_from(Alert).where(Alert.incident_id == incident.id)).one()
    author = aliased(User)
    notes = db.exec(select(Note, author.name).join(author, author.id == Note.author_id, isouter=True)
                    .where(Note.incident_id == incident.id).order_by(Note.created_at, Note.id)).all()
    merged = db.exec(select(Incident.id, Incident.number).where(
        Incident.id.in_([incident.merged_into_id] if incident.merged_into_id else [-1]))).first()
    return {
        **incident_row(incident, service, team_id, team, assignee_name, acker_name),
        "resolved_by_name": resolver_name,
        "merged_into": {"id": merged[0], "number": merged[1]} if merged else None,
        "alert_total": alert_total,
        "alerts": [alert_view(a) for a in alerts],
        "notes": [{"id": n.id, "author_id": n.author_id, "author_name": name, "body": n.body,
                   "created_at": _iso(n.created_at)} for n, name in notes],
        "timeline": timeline(db, incident.id),
    }


def alert_view(alert: Alert) -> dict[str, Any]:
    payload = alert.payload or {}
    details = payload.get("details") if isinstance(payload.get("details"), dict) else {}
    return {
        "id": alert.id, "action": alert.action, "summary": alert.summary, "severity": alert.severity,
        "source": alert.source, "dedup_key": alert.dedup_key, "received_at": _iso(alert.received_at),
        "labels": details.get("labels") if isinstance(details.get("labels"), dict) else {},
        "annotations": details.get("annotations") if isinstance(details.get("annotations"), dict) else {},
        "details": details,
        "links": [link for link in payload.get("links") or [] if isinstance(link, dict) and link.get("href")],
        "raw": alert.raw,
    }


def timeline(db: Session, incident_id: int) -> list[dict[str, Any]]:
    """Timeline events and deliveries, oldest first. A delivery is one entry per page: channel, recipient (the
    person and the address used), and its outcome so far."""
    actor = aliased(User)
    # The newest TIMELINE_SHOWN of each (a flapping incident's latest acknowledgements and pages matter most).
    events = db.exec(select(TimelineEvent, actor.name).join(actor, actor.id == TimelineEvent.actor_user_id,
                                                           isouter=True)
                     .where(TimelineEvent.incident_id == incident_id)
                     .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc()).limit(TIMELINE_SHOWN)).all()
    person = aliased(User)
    deliveries = db.exec(select(Delivery, person.name).join(person, person.id == Delivery.user_id, isouter=True)
                         .where(Delivery.incident_id == incident_id)
                         .order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(TIMELINE_SHOWN)).all()
    entries = [{"at": _iso(e.at), "kind": e.kind, "source": e.source, "message": e.message,
                "actor_user_id": e.actor_user_id, "actor_name": name, "data": e.data or {}}
               for e, name in reversed(events)]
    for delivery, name in reversed(deliveries):
        at = delivery.sent_at or delivery.next_attempt_at or delivery.created_at
        outcome = delivery.status + (f": {delivery.error[:200]}" if delivery.error else "")
        entries.append({
            "at": _iso(at), "kind": "delivery", "source": delivery.channel,
            "message": f"{delivery.channel} to {name or 'a removed user'} "
                       f"({contacts.display(delivery.channel, delivery.target)}) — {outcome}",
            "actor_user_id": None, "actor_name": None,
            "data": {"delivery_id": delivery.id, "channel": delivery.channel, "user_id": delivery.user_id,
                     "status": delivery.status, "attempts": delivery.attempts,
                     "responder_request": delivery.responder_request},
        })
    entries.sort(key=lambda entry: entry["at"] or "")
    return entries


def filter_choices(db: Session, actor: Principal | None) -> dict[str, list[tuple[int, str]]]:
    """What the dashboard's filters and the forms offer: services, teams, active users, schedules, policies."""
    from opsknight.models import EscalationPolicy, Schedule, UserStatus

    authorize(actor, Permission.READ)

    def pairs(model, where=True):
        return [(i, n) for i, n in db.exec(select(model.id, model.name).where(where).order_by(model.name)).all()]

    return {"services": pairs(Service), "teams": pairs(Team), "users": pairs(User, User.status == UserStatus.ACTIVE),
            "schedules": pairs(Schedule), "policies": pairs(EscalationPolicy)}
