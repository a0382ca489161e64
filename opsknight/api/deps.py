"""Authentication for the REST API: `Authorization: Bearer <API key>`, checked on every request.

Keys carry their owner's role, optionally narrowed by scopes ("read" keys cannot change anything). A revoked
key or a disabled owner stops working at once: nothing is cached.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from opsknight import accounts
from opsknight.db import session_scope
from opsknight.permissions import Permission, allowed


def _principal_for(key: str) -> accounts.Principal | None:
    with session_scope() as db:
        return accounts.principal_for_api_key(db, key)


async def current_principal(request: Request) -> accounts.Principal:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(401, "Send an API key as 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = await run_in_threadpool(_principal_for, key.strip())
    if principal is None:
        raise HTTPException(401, "Unknown, revoked or disabled API key", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require(permission: Permission):
    """A dependency that lets the request through only if the key's owner (and its scopes) may do this."""

    def check(principal: Annotated[accounts.Principal, Depends(current_principal)]) -> accounts.Principal:
        if not allowed(principal, permission):
            raise HTTPException(403, f"Your role or API key does not allow this ({permission})")
        return principal

    check.permission = permission  # read by the authorization matrix test
    return check


# A row id in a path: bounded to PostgreSQL's integer, so an out-of-range id is a 400/404, never a 500.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# List pages: `cursor` is the previous page's `next_cursor`.
Cursor = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="`next_cursor` of the previous page")]

Reader = Annotated[accounts.Principal, Depends(require(Permission.READ))]
Responder = Annotated[accounts.Principal, Depends(require(Permission.ACT_ON_INCIDENTS))]
Admin = Annotated[accounts.Principal, Depends(require(Permission.CONFIGURE))]
# One's own profile (contact methods, rules, API keys); on another user's profile, `SelfOrAdmin`.
ProfileEditor = Annotated[accounts.Principal, Depends(require(Permission.OWN_PROFILE))]


def _self_or_admin(user_id: RowId, principal: ProfileEditor) -> accounts.Principal:
    """Another user's profile is an admin's business: checked before the body is even read."""
    if principal.user_id != user_id and not allowed(principal, Permission.CONFIGURE):
        raise HTTPException(403, f"Only an admin may change another user's profile ({Permission.CONFIGURE})")
    return principal


SelfOrAdmin = Annotated[accounts.Principal, Depends(_self_or_admin)]
Auditor = Annotated[accounts.Principal, Depends(require(Permission.READ_AUDIT))]
