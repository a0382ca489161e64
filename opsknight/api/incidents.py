"""Incidents in the REST API: list (filters, counts, cursor pages), get (alerts, notes, timeline), open one by
hand, and what a responder does — acknowledge, resolve, snooze, escalate now, reassign, add responders, change
the urgency, add a note, merge. Thin: every route reads through `admin.incident_views` and acts through
`admin.incidents`, the same functions the pages call.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from opsknight.accounts import Principal
from opsknight.admin import incident_views, incidents
from opsknight.api.deps import Reader, Responder, RowId
from opsknight.api.errors import ErrorShapedRoute
from opsknight.db import session_scope

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], route_class=ErrorShapedRoute)
VIA = "api"
IncidentCursor = Annotated[int | None, Query(ge=1, le=3 * 2**31, description="`next_cursor` of the previous page")]


@router.get("", summary="List incidents: open first (triggered, acknowledged), newest first within each status")
def list_incidents(
    principal: Reader,
    status: list[Literal["triggered", "acknowledged", "resolved"]] = Query(default=[]),
    service_id: int | None = Query(default=None, ge=1, le=2**31 - 1),
    team_id: int | None = Query(default=None, ge=1, le=2**31 - 1),
    urgency: Literal["high", "low"] | None = None,
    mine: bool = Query(default=False, description="Assigned to me, acknowledged by me, or paging me"),
    q: str = Query(default="", max_length=200, description="Text in the title or service name, or #number"),
    limit: int = Query(default=50, ge=1, le=incident_views.MAX_LIMIT),
    cursor: IncidentCursor = None,
) -> dict:
    flt = incident_views.IncidentFilter(statuses=tuple(status), service_id=service_id, team_id=team_id,
                                        urgency=urgency, mine=mine, text=q)
    with session_scope() as db:
        page = incident_views.list_incidents(db, principal, flt, cursor=cursor, limit=limit)
    return {"data": page.rows, "next_cursor": page.next_cursor, "counts": page.counts}


def _current(principal: Principal, incident_id: int) -> dict:
    with session_scope() as db:
        return incident_views.get_incident(db, principal, incident_id)


@router.post("", status_code=201, summary="Open an incident by hand (pages like an alert would)")
def create_incident(body: incidents.OpenIn, principal: Responder) -> dict:
    return _current(principal, incidents.open_incident(principal, body, via=VIA))


@router.get("/{incident_id}", summary="One incident with its alerts, notes and timeline (events and every page)")
def get_incident(incident_id: RowId, principal: Reader) -> dict:
    return _current(principal, incident_id)


def _act(principal: Principal, incident_id: int, action, *args) -> dict:
    """Act, then answer with the incident as it now is. Someone having done it first is no error here: acting is
    idempotent, the answer shows who did."""
    try:
        action(principal, incident_id, *args, via=VIA)
    except incidents.LostRace:
        pass
    return _current(principal, incident_id)


@router.post("/{incident_id}/acknowledge", summary="Acknowledge: stop paging")
def acknowledge(incident_id: RowId, principal: Responder) -> dict:
    return _act(principal, incident_id, incidents.acknowledge)


@router.post("/{incident_id}/resolve", summary="Resolve, optionally with a resolution note")
def resolve(incident_id: RowId, principal: Responder, body: incidents.ResolveIn | None = None) -> dict:
    return _act(principal, incident_id, incidents.resolve, body)


@router.post("/{incident_id}/snooze", summary="Pause paging; page again from step 1 when it ends")
def snooze(incident_id: RowId, body: incidents.SnoozeIn, principal: Responder) -> dict:
    return _act(principal, incident_id, incidents.snooze, body)


@router.post("/{incident_id}/escalate", summary="Page the next escalation step now")
def escalate(incident_id: RowId, principal: Responder) -> dict:
    return _act(principal, incident_id, incidents.escalate)


@router.post("/{incident_id}/reassign", summary="Assign to someone and page them now")
def reassign(incident_id: RowId, body: incidents.ReassignIn, principal: Responder) -> dict:
    return _act(principal, incident_id, incidents.reassign, body)


@router.post("/{incident_id}/responders", summary="Page more people now (a user, a schedule's on-call, a policy's "
                                                   "first step), keeping the assignee")
def add_responders(incident_id: RowId, body: incidents.ResponderIn, principal: Responder) -> dict:
    return _act(principal, incident_id, incidents.add_responders, body)


@router.post("/{incident_id}/urgency", summary="Change the urgency")
def change_urgency(incident_id: RowId, body: incidents.UrgencyIn, principal: Responder) -> dict:
    return _act(principal, incident_id, incidents.change_urgency, body)


@router.post("/{incident_id}/merge", summary="Move this incident's alerts into another open incident and resolve "
                                              "this one as merged")
def merge(incident_id: RowId, body: incidents.MergeIn, principal: Responder) -> dict:
    return _act(principal, incident_id, incidents.merge, body)


@router.post("/{incident_id}/notes", status_code=201, summary="Add a note to the timeline")
def add_note(incident_id: RowId, body: incidents.NoteIn, principal: Responder) -> dict:
    return incidents.add_note(principal, incident_id, body, via=VIA)
