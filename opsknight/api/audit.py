"""The audit log in the REST API: newest first, filtered, in cursor pages. Admin keys only (with the write scope,
like every admin route: the log shows who changed what)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from opsknight.admin import audit_log
from opsknight.api.deps import Admin
from opsknight.api.errors import ErrorShapedRoute
from opsknight.db import session_scope

router = APIRouter(prefix="/api/v1/audit", tags=["audit log"], route_class=ErrorShapedRoute)


@router.get("", summary="Audit entries, newest first; `since` inclusive, `until` exclusive")
def list_audit(principal: Admin, filters: Annotated[audit_log.AuditQuery, Query()]) -> dict:
    with session_scope() as db:
        data, next_cursor = audit_log.query(db, principal, filters)
    return {"data": data, "next_cursor": next_cursor}
