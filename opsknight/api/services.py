"""Services and their integrations in the REST API. Reads need a viewer's key, changes an admin's key with the
`write` scope. The logic lives in `opsknight.admin.services` / `opsknight.admin.integrations`, which the admin
pages call too. An integration's token comes back exactly once: from its creation or a rotation.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from opsknight.admin import integrations as integration_admin
from opsknight.admin import services as service_admin
from opsknight.admin.integrations import IntegrationCreate, IntegrationUpdate
from opsknight.admin.services import ServiceCreate, ServiceUpdate
from opsknight.api.deps import Admin, Cursor, Reader, RowId
from opsknight.api.errors import ErrorShapedRoute
from opsknight.db import session_scope

router = APIRouter(prefix="/api/v1", tags=["services"], route_class=ErrorShapedRoute)

ServiceId = RowId
IntegrationId = RowId


@router.get("/services", summary="List services (id order, `next_cursor` pages)")
def list_services(
    principal: Reader,
    limit: int = Query(default=50, ge=1, le=200),
    cursor: Cursor = None,
) -> dict:
    with session_scope() as db:
        page, next_cursor = service_admin.list_services(db, principal, limit=limit, after_id=cursor)
    return {"data": page, "next_cursor": next_cursor}


@router.post("/services", status_code=201, summary="Create a service")
def create_service(body: ServiceCreate, principal: Admin) -> dict:
    with session_scope() as db:
        return service_admin.create_service(db, principal, body)


@router.get("/services/{service_id}", summary="One service")
def get_service(service_id: ServiceId, principal: Reader) -> dict:
    with session_scope() as db:
        return service_admin.get_service(db, principal, service_id)


@router.patch("/services/{service_id}", summary="Change a service's settings or maintenance window")
def update_service(service_id: ServiceId, body: ServiceUpdate, principal: Admin) -> dict:
    with session_scope() as db:
        return service_admin.update_service(db, principal, service_id, body)


@router.delete("/services/{service_id}", status_code=204, response_class=Response,
               summary="Delete a service and its integrations (409 while it has incidents)")
def delete_service(service_id: ServiceId, principal: Admin) -> Response:
    with session_scope() as db:
        service_admin.delete_service(db, principal, service_id)
    return Response(status_code=204)


@router.get("/services/{service_id}/integrations", summary="A service's integrations (no tokens or secrets)")
def list_integrations(service_id: ServiceId, principal: Reader) -> dict:
    with session_scope() as db:
        return {"data": integration_admin.list_integrations(db, principal, service_id)}


@router.post("/services/{service_id}/integrations", status_code=201,
             summary="Create an integration; the answer holds its token and config snippet, shown only this once")
def create_integration(service_id: ServiceId, body: IntegrationCreate, principal: Admin) -> dict:
    with session_scope() as db:
        return integration_admin.create_integration(db, principal, service_id, body)


@router.get("/integrations/{integration_id}", summary="One integration (no token or secret)")
def get_integration(integration_id: IntegrationId, principal: Reader) -> dict:
    with session_scope() as db:
        return integration_admin.get_integration(db, principal, integration_id)


@router.patch("/integrations/{integration_id}",
              summary="Rename, enable/disable, set or clear the HMAC secret, options, heartbeat interval")
def update_integration(integration_id: IntegrationId, body: IntegrationUpdate, principal: Admin) -> dict:
    with session_scope() as db:
        return integration_admin.update_integration(db, principal, integration_id, body)


@router.delete("/integrations/{integration_id}", status_code=204, response_class=Response,
               summary="Delete an integration (its token stops working)")
def delete_integration(integration_id: IntegrationId, principal: Admin) -> Response:
    with session_scope() as db:
        integration_admin.delete_integration(db, principal, integration_id)
    return Response(status_code=204)


@router.post("/integrations/{integration_id}/rotate",
             summary="Replace the token; the old one stops working; the new one is shown only this once")
def rotate_token(integration_id: IntegrationId, principal: Admin) -> dict:
    with session_scope() as db:
        return integration_admin.rotate_token(db, principal, integration_id)
