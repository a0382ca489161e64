"""The permission model, in one place: what each role may do, and which API-key scope an action needs.

Viewers read; responders act on incidents and their own profile; admins configure. An API key carries its
owner's role, optionally narrowed to read-only by its scopes. Every API route and state handler asks
`allowed(principal, permission)` server-side.
"""

from __future__ import annotations

from enum import StrEnum

from opsknight.accounts import Principal

ROLE_RANK = {"viewer": 0, "responder": 1, "admin": 2}


class Permission(StrEnum):
    READ = "read"  # incidents, schedules, who is on call
    ACT_ON_INCIDENTS = "act_on_incidents"  # acknowledge, resolve, snooze, escalate, reassign, notes
    CONFIGURE = "configure"  # services, integrations, policies, schedules, users, teams
    READ_AUDIT = "read_audit"  # the audit log: admins only, and a read-only admin key is enough
    OWN_ACCOUNT = "own_account"  # one's own password and sessions: everyone who can sign in
    OWN_PROFILE = "own_profile"  # one's own contact methods, notification rules, time zone, API keys
    # Add or remove a schedule override that puts oneself on call (taking a shift); any other override: CONFIGURE.
    TAKE_SHIFT = "take_shift"


# permission -> (lowest role, API-key scope it needs)
RULES: dict[Permission, tuple[str, str]] = {
    Permission.READ: ("viewer", "read"),
    Permission.ACT_ON_INCIDENTS: ("responder", "write"),
    Permission.CONFIGURE: ("admin", "write"),
    Permission.READ_AUDIT: ("admin", "read"),
    Permission.OWN_ACCOUNT: ("viewer", "write"),
    Permission.OWN_PROFILE: ("responder", "write"),
    Permission.TAKE_SHIFT: ("responder", "write"),
}


def allowed(principal: Principal | None, permission: Permission) -> bool:
    if principal is None:
        return False
    role, scope = RULES[permission]
    return ROLE_RANK.get(principal.role, -1) >= ROLE_RANK[role] and scope in principal.scopes
