"""Incidents in the REST API: list (filters, cursor pagination), get (with its timeline), open one by hand, and
the actions a responder takes — acknowledge, resolve, snooze, escalate now, reassign, add a note. Opening goes
through `engine.ingest` like any alert (same dedup, durable outbox, paging); actions go through
`engine.actions`, the same calls the web UI, Slack, SMS and email links use.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import select

from opsknight.admin.fields import Input, storable
from opsknight.api.deps import Cursor, Reader, Responder, RowId
from opsknight.api.errors import ApiError, ErrorShapedRoute
from opsknight.db import session_scope
from opsknight.engine import actions, clock
from opsknight.engine.ingest import Origin, ingest
from opsknight.engine.normalize import Action
from opsknight.engine.normalize.common import make_alert
from opsknight.engine.reconciler import enqueue_new_outbox
from opsknight.models import Incident, Note, Service, TimelineEvent, TimelineKind

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], route_class=ErrorShapedRoute)
VIA = "api"


def _incident_json(incident: Incident, service_name: str) -> dict:
    def at(value):
        return value.isoformat() if value else None

    return {
        "id": incident.id, "number": incident.number, "title": incident.title, "status": incident.status,
        "urgency": incident.urgency, "service": {"id": incident.service_id, "name": service_name},
        "dedup_key": incident.dedup_key, "alert_count": incident.alert_count, "assignee_id": incident.assignee_id,
        "created_at": at(incident.created_at), "acknowledged_at": at(incident.acknowledged_at),
        "acknowledged_by_id": incident.acknowledged_by_id, "resolved_at": at(incident.resolved_at),
        "resolved_by_id": incident.resolved_by_id, "snoozed_until": at(incident.snoozed_until),
        "escalation_step": incident.escalation_step, "next_escalation_at": at(incident.next_escalation_at),
    }


@router.get("", summary="List incidents, newest first")
def list_incidents(
    _: Reader,
    status: list[Literal["triggered", "acknowledged", "resolved"]] = Query(default=[]),
    service_id: int | None = Query(default=None, ge=1, le=2**31 - 1),
    limit: int = Query(default=50, ge=1, le=200),
    cursor: Cursor = None,
) -> dict:
    with session_scope() as db:
        query = select(Incident, Service.name).join(Service, Service.id == Incident.service_id)
        if status:
            query = query.where(Incident.status.in_(status))
        if service_id is not None:
            query = query.where(Incident.service_id == service_id)
        if cursor is not None:
            query = query.where(Incident.id < cursor)
        rows = db.exec(query.order_by(Incident.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    return {"data": [_incident_json(i, name) for i, name in page],
            "next_cursor": page[-1][0].id if len(rows) > limit else None}


class CreateIncidentBody(BaseModel):
    service_id: int = Field(ge=1, le=2**31 - 1)
    title: str = Field(min_length=1, max_length=1024)
    severity: Literal["critical", "error", "warning", "info"] = Field(
        default="critical", description="Mapped to urgency like a monitor's alert: critical/error page as high")
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255,
                                  description="Joins the open incident with this key instead of opening another")
    details: dict[str, Any] = Field(default_factory=dict)


@router.post("", status_code=201, summary="Open an incident by hand (pages like an alert would)")
def create_incident(body: CreateIncidentBody, principal: Responder) -> dict:
    alert = make_alert(action=Action.TRIGGER, dedup_key=body.dedup_key or f"manual-{secrets.token_hex(8)}",
                       summary=body.title, severity=body.severity, source=f"{principal.name} (api)",
                       details=body.details)
    with session_scope() as db:
        service = db.get(Service, body.service_id)
        if service is None:
            raise ApiError(400, "invalid_request", f"No service {body.service_id}", ["service_id"])
        raw = json.dumps(body.model_dump()).encode()
        batch = ingest(db, Origin(service_id=service.id, source_type=VIA), [alert], raw, clock.now(), service)
        answer = _incident_json(*_load(db, batch.results[0].incident_id))
    enqueue_new_outbox(batch.outbox_ids, batch.changed_incident_ids)  # durable already: the reconciler repairs
    return answer


def _load(db, incident_id: int) -> tuple[Incident, str]:
    row = db.exec(select(Incident, Service.name).join(Service, Service.id == Incident.service_id)
                  .where(Incident.id == incident_id)).first()
    if row is None:
        raise ApiError(404, "not_found", f"No incident {incident_id}")
    return row


@router.get("/{incident_id}", summary="One incident with its timeline")
def get_incident(incident_id: RowId, _: Reader) -> dict:
    with session_scope() as db:
        incident, service_name = _load(db, incident_id)
        events = db.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                         .order_by(TimelineEvent.at, TimelineEvent.id).limit(500)).all()
        notes = db.exec(select(Note).where(Note.incident_id == incident_id).order_by(Note.created_at)).all()
    return {**_incident_json(incident, service_name),
            "timeline": [{"at": e.at.isoformat(), "kind": e.kind, "source": e.source, "message": e.message,
                          "actor_user_id": e.actor_user_id} for e in events],
            "notes": [{"id": n.id, "author_id": n.author_id, "body": n.body, "created_at": n.created_at.isoformat()}
                      for n in notes]}


def _act(incident_id: RowId, action, **kwargs) -> dict:
    try:
        actions.perform(action, incident_id, **kwargs)
    except actions.ActionError as exc:
        status = 404 if str(exc).startswith("No incident") else 409
        raise ApiError(status, "not_found" if status == 404 else "conflict", str(exc)) from None
    with session_scope() as db:
        return _incident_json(*_load(db, incident_id))


@router.post("/{incident_id}/acknowledge", summary="Acknowledge: stop paging")
def acknowledge(incident_id: RowId, principal: Responder) -> dict:
    return _act(incident_id, actions.acknowledge, user_id=principal.user_id, via=VIA)


@router.post("/{incident_id}/resolve", summary="Resolve")
def resolve(incident_id: RowId, principal: Responder) -> dict:
    return _act(incident_id, actions.resolve, user_id=principal.user_id, via=VIA)


class SnoozeBody(BaseModel):
    minutes: int = Field(ge=1, le=7 * 24 * 60)


@router.post("/{incident_id}/snooze", summary="Pause paging; page again from step 1 when it ends")
def snooze(incident_id: RowId, body: SnoozeBody, principal: Responder) -> dict:
    until = clock.now() + timedelta(minutes=body.minutes)
    return _act(incident_id, actions.snooze, user_id=principal.user_id, until=until, via=VIA)


@router.post("/{incident_id}/escalate", summary="Page the next escalation step now")
def escalate(incident_id: RowId, principal: Responder) -> dict:
    return _act(incident_id, actions.escalate_now, user_id=principal.user_id, via=VIA)


class ReassignBody(BaseModel):
    user_id: int = Field(ge=1, le=2**31 - 1)


@router.post("/{incident_id}/reassign", summary="Assign to someone and page them now")
def reassign(incident_id: RowId, body: ReassignBody, principal: Responder) -> dict:
    return _act(incident_id, actions.reassign, to_user_id=body.user_id, user_id=principal.user_id, via=VIA)


class NoteBody(Input):
    body: Annotated[str, Field(min_length=1, max_length=10_000), AfterValidator(storable)]


@router.post("/{incident_id}/notes", status_code=201, summary="Add a note to the timeline")
def add_note(incident_id: RowId, body: NoteBody, principal: Responder) -> dict:
    with session_scope() as db:
        incident, _ = _load(db, incident_id)
        now = clock.now()
        note = Note(incident_id=incident.id, author_id=principal.user_id, body=body.body, created_at=now)
        db.add(note)
        db.add(TimelineEvent(incident_id=incident.id, kind=TimelineKind.NOTE, at=now, actor_user_id=principal.user_id,
                             source=VIA, message=f"Note by {principal.name}: {body.body[:500]}"))
        db.flush()
        return {"id": note.id, "incident_id": incident.id, "author_id": note.author_id, "body": note.body,
                "created_at": now.isoformat()}
