"""The audit log in the REST API: newest first, filtered, in cursor pages. Admins only (a read-only key is
enough: reading the log changes nothing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from opsknight.admin import audit_log
from opsknight.api.deps import Auditor
from opsknight.api.errors import ErrorShapedRoute
from opsknight.db import session_scope

router = APIRouter(prefix="/api/v1/audit", tags=["audit log"], route_class=ErrorShapedRoute)


@router.get("", summary="Audit entries, newest first; `since` inclusive, `until` exclusive")
def list_audit(principal: Auditor, filters: Annotated[audit_log.AuditQuery, Query()]) -> dict:
    with session_scope() as db:
        data, next_cursor = audit_log.query(db, principal, filters)
    return {"data": data, "next_cursor": next_cursor}
