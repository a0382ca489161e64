"""The status page in the REST API: components (admins write, everyone signed in reads) and an incident's public
updates (responders post). Thin: every route calls `admin.status_page`, the same functions the pages call. The
public page itself is `api.status_page`."""

from __future__ import annotations

from fastapi import APIRouter, Response

from opsknight.admin import status_page
from opsknight.api.deps import Admin, Reader, Responder, RowId
from opsknight.api.errors import ErrorShapedRoute
from opsknight.db import session_scope

router = APIRouter(prefix="/api/v1", tags=["status page"], route_class=ErrorShapedRoute)


@router.get("/status-page/components", summary="Status page components, in page order")
def list_components(principal: Reader) -> dict:
    with session_scope() as db:
        return {"data": status_page.list_components(db, principal)}


@router.post("/status-page/components", status_code=201, summary="Add a component (name, services, order)")
def create_component(body: status_page.ComponentIn, principal: Admin) -> dict:
    with session_scope() as db:
        return status_page.create_component(db, principal, body)


@router.patch("/status-page/components/{component_id}",
              summary="Change a component; `manual_status: null` goes back to the state its incidents give")
def update_component(component_id: RowId, body: status_page.ComponentUpdate, principal: Admin) -> dict:
    with session_scope() as db:
        return status_page.update_component(db, principal, component_id, body)


@router.delete("/status-page/components/{component_id}", status_code=204, response_class=Response,
               summary="Remove a component from the status page")
def delete_component(component_id: RowId, principal: Admin) -> Response:
    with session_scope() as db:
        status_page.delete_component(db, principal, component_id)
    return Response(status_code=204)


@router.get("/incidents/{incident_id}/status-updates", summary="An incident's public title and public updates")
def list_status_updates(incident_id: RowId, principal: Reader) -> dict:
    with session_scope() as db:
        return status_page.list_status_updates(db, principal, incident_id)


@router.post("/incidents/{incident_id}/status-updates", status_code=201,
             summary="Post a public update (investigating, identified, monitoring, resolved) to the status page")
def post_status_update(incident_id: RowId, body: status_page.StatusUpdateIn, principal: Responder) -> dict:
    with session_scope() as db:
        return status_page.post_status_update(db, principal, incident_id, body)
