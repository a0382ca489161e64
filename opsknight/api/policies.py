"""Escalation policies in the REST API: list, get (steps with named targets, and the services using it), create,
update (sent fields only; `steps` replaces every step), reorder steps, delete (refused while services use it).

Reads need a Reader key, changes an Admin key with the write scope. The work is `opsknight.admin.policies`, the
same functions the admin pages call. Step positions are 0-based, like an incident's `escalation_step`.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from opsknight.admin import policies
from opsknight.api.deps import Admin, Cursor, Reader, RowId
from opsknight.api.errors import ErrorShapedRoute
from opsknight.db import session_scope

router = APIRouter(prefix="/api/v1/escalation-policies", tags=["escalation policies"], route_class=ErrorShapedRoute)
PolicyId = RowId


@router.get("", summary="List escalation policies with the services using each")
def list_policies(
    principal: Reader,
    limit: int = Query(default=100, ge=1, le=200),
    cursor: Cursor = None,
) -> dict:
    with session_scope() as db:
        data, next_cursor = policies.list_policies(db, principal, limit=limit, cursor=cursor)
    return {"data": data, "next_cursor": next_cursor}


@router.post("", status_code=201, summary="Create a policy with its steps")
def create_policy(body: policies.PolicyIn, principal: Admin) -> dict:
    with session_scope() as db:
        return policies.create_policy(db, principal, body)


@router.get("/{policy_id}", summary="One policy: steps with their targets, and the services using it")
def get_policy(policy_id: PolicyId, principal: Reader) -> dict:
    with session_scope() as db:
        return policies.get_policy(db, principal, policy_id)


@router.patch("/{policy_id}", summary="Change a policy; `steps`, when sent, replaces every step")
def update_policy(policy_id: PolicyId, body: policies.PolicyPatch, principal: Admin) -> dict:
    with session_scope() as db:
        return policies.update_policy(db, principal, policy_id, body)


@router.post("/{policy_id}/reorder", summary="Put the steps in a new order")
def reorder_steps(policy_id: PolicyId, body: policies.ReorderIn, principal: Admin) -> dict:
    with session_scope() as db:
        return policies.reorder_steps(db, principal, policy_id, body)


@router.delete("/{policy_id}", status_code=204, summary="Delete a policy no service uses")
def delete_policy(policy_id: PolicyId, principal: Admin) -> Response:
    with session_scope() as db:
        policies.delete_policy(db, principal, policy_id)
    return Response(status_code=204)
