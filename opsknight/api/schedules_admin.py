"""Schedules in the REST API: list, create, read, replace, rename and delete; overrides; a preview of an unsaved
definition; and who is on call right now everywhere. The rules live in ``opsknight.admin.schedules`` (shared
with the admin pages); these routes parse, authenticate and answer.

Permissions (checked again in the admin layer):

* Reads (``GET``) and ``POST /api/v1/schedules/preview`` (it writes nothing): any API key (``Reader``).
* Creating, replacing, changing and deleting schedules: admins with a write key (``Admin``).
* Overrides, ``POST``/``DELETE /api/v1/schedules/{id}/overrides``: admins, any override. A responder (write key)
  may add or delete only an override whose ``user_id`` is the responder: taking a shift, whole or instead of a
  colleague (``replaces_user_id``). Viewers and read-only keys: 403. (``Permission.TAKE_SHIFT``.)

Times are ISO 8601 with an offset or ``Z`` (a naive time is refused); answers are in UTC. Errors come out as
``{"error": {"code", "message", "fields"}}``; a refused delete (an escalation policy still pages the schedule)
or a stale ``updated_at`` is 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from opsknight.accounts import Principal
from opsknight.admin import schedule_overrides, schedules
from opsknight.admin.schedule_input import OverrideIn, PreviewRequest, ScheduleDefinition, SchedulePatch
from opsknight.api.deps import Admin, Cursor, Reader, RowId, require
from opsknight.api.errors import ErrorShapedRoute
from opsknight.api.schedules import block_json, iso, parse_instant
from opsknight.db import session_scope
from opsknight.engine import clock, oncall_overview
from opsknight.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["schedules"], route_class=ErrorShapedRoute)
ShiftTaker = Annotated[Principal, Depends(require(Permission.TAKE_SHIFT))]
ScheduleId = RowId
OverrideId = RowId
Instant = Annotated[str | None, Query(max_length=64, description="ISO 8601 with an offset, e.g. 2026-03-29T01:30:00Z")]


def _timeline_json(timeline: schedules.Timeline, schedule_id: int | None) -> dict:
    """The shape of ``GET /api/v1/schedules/{id}/final?layers=true``, plus the names of the users it mentions."""
    return {"schedule_id": schedule_id, "time_zone": timeline.time_zone, "start": iso(timeline.start),
            "end": iso(timeline.end), "blocks": [block_json(b) for b in timeline.blocks],
            "layers": [{"id": layer_id, "name": name, "blocks": [block_json(b) for b in blocks]}
                       for layer_id, name, blocks in timeline.layers],
            "users": [{"id": i, "name": n} for i, n in sorted(timeline.user_names.items())]}


@router.get("/schedules", summary="List schedules (by id, cursor pages)")
def list_schedules(
    principal: Reader,
    limit: int = Query(default=50, ge=1, le=200),
    cursor: Cursor = None,
) -> dict:
    with session_scope() as db:
        page = schedules.list_schedules(db, principal, after_id=cursor, limit=limit + 1)
    return {"data": page[:limit], "next_cursor": page[limit - 1]["id"] if len(page) > limit else None}


@router.post("/schedules", status_code=201, summary="Create a schedule (optionally with its layers)")
def create_schedule(body: ScheduleDefinition, principal: Admin) -> dict:
    with session_scope() as db:
        return schedules.create_schedule(db, principal, body)


@router.post("/schedules/preview", summary="Evaluate an unsaved definition: the final schedule and each layer")
def preview(body: PreviewRequest, principal: Reader) -> dict:
    """Answers what ``/final?layers=true`` will answer once the definition is saved (``schedule_id`` adds that
    saved schedule's overrides). Nothing is written."""
    with session_scope() as db:
        return _timeline_json(schedules.preview(db, principal, body), body.schedule_id)


@router.get("/schedules/{schedule_id}", summary="A schedule with its layers (members in rotation order)")
def get_schedule(schedule_id: ScheduleId, principal: Reader) -> dict:
    with session_scope() as db:
        return schedules.get_schedule(db, principal, schedule_id)


@router.put("/schedules/{schedule_id}", summary="Replace a schedule's whole definition (all layers, atomically)")
def replace_schedule(schedule_id: ScheduleId, body: ScheduleDefinition, principal: Admin) -> dict:
    with session_scope() as db:
        return schedules.replace_schedule(db, principal, schedule_id, body)


@router.patch("/schedules/{schedule_id}", summary="Change name, description, time zone or team")
def update_schedule(schedule_id: ScheduleId, body: SchedulePatch, principal: Admin) -> dict:
    """A new time zone keeps each layer's local start date and handoff time (09:00 stays 09:00)."""
    with session_scope() as db:
        return schedules.update_schedule(db, principal, schedule_id, body)


@router.delete("/schedules/{schedule_id}", status_code=204, response_class=Response,
               summary="Delete a schedule (409 while an escalation policy pages it)")
def delete_schedule(schedule_id: ScheduleId, principal: Admin) -> Response:
    with session_scope() as db:
        schedules.delete_schedule(db, principal, schedule_id)
    return Response(status_code=204)


@router.get("/schedules/{schedule_id}/overrides", summary="Overrides overlapping [start, end) (default: from now)")
def list_overrides(schedule_id: ScheduleId, principal: Reader, start: Instant = None, end: Instant = None) -> dict:
    lo = parse_instant(start, "start") if start is not None else (None if end is not None else clock.now())
    hi = parse_instant(end, "end") if end is not None else None
    with session_scope() as db:
        return {"data": schedule_overrides.list_overrides(db, principal, schedule_id, lo, hi)}


@router.post("/schedules/{schedule_id}/overrides", status_code=201,
             summary="Add an override (admins: anyone; responders: themselves only)")
def create_override(schedule_id: ScheduleId, body: OverrideIn, principal: ShiftTaker) -> dict:
    with session_scope() as db:
        return schedule_overrides.create_override(db, principal, schedule_id, body)


@router.delete("/schedules/{schedule_id}/overrides/{override_id}", status_code=204, response_class=Response,
               summary="Delete an override (admins: any; responders: their own shifts only)")
def delete_override(schedule_id: ScheduleId, override_id: OverrideId, principal: ShiftTaker) -> Response:
    with session_scope() as db:
        schedule_overrides.delete_override(db, principal, schedule_id, override_id)
    return Response(status_code=204)


@router.get("/oncall", summary="Who is on call now: every schedule and every escalation policy's first step")
def who_is_on_call(principal: Reader, at: Instant = None) -> dict:
    """``paged_user_ids`` of a policy are exactly the users its first step would page at ``at`` (active, each
    once); ``next_change_at`` of a schedule is its next handoff within 14 days (null: none that soon)."""
    instant = parse_instant(at, "at") if at is not None else clock.now()
    with session_scope() as db:
        return oncall_overview.overview(db, instant)
