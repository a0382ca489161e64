"""The authorization matrix: every API route and every Reflex event handler, against every kind of caller.

`API_MATRIX` and `HANDLER_MATRIX` below are the specification: which permission each route and handler needs.
The tests check that (1) every route and handler in the app has an entry and declares exactly that permission
(through `api.deps.require` or `@guarded`), and (2) each caller — signed out, viewer, responder, admin, an
admin's read-only API key, a revoked key or session, a disabled admin — gets exactly what
`permissions.allowed` says: refused callers get 401/403 (or the handler's refusal), allowed callers get past
the check. A new route or handler without an entry here fails.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import reflex as rx
from reflex.istate.data import RouterData
from fastapi.routing import APIRoute

from opsknight import accounts
from opsknight.api import create_api
from opsknight.api.session import SESSION_COOKIE
from opsknight.config import settings
from opsknight.db import session_scope
from opsknight.models import Role, User, UserStatus
from sqlmodel import select
from opsknight.permissions import Permission, allowed
from opsknight.state import guard

# Routes outside /api/v1 authenticate by other means; each says how. A new one must be added here on purpose.
NOT_API_KEY_ROUTES = {
    "/api/health": "public liveness (no data)",
    "/metrics": "Prometheus scrape (counters only)",
    "/api/webhooks/prometheus": "integration token", "/api/webhooks/grafana": "integration token",
    "/api/webhooks/datadog": "integration token", "/api/webhooks/generic": "integration token",
    "/api/webhooks/heartbeat/{integration_id}": "integration token", "/api/v2/enqueue": "routing key",
    "/api/slack/interactions": "Slack request signature", "/api/twilio/inbound": "Twilio request signature",
    "/api/ack/{token}": "signed single-use link", "/ack/{token}": "signed single-use link (a page asking to POST)",
    "/api/push/vapid-public-key": "public key (no secret)",
    "/api/push/receipts/{token}": "the page's signed receipt token",
    "/api/push/subscriptions": "the caller's own session cookie, same-origin only",
    "/api/push/subscriptions/forget": "the caller's own session cookie, same-origin only",
    "/manifest.webmanifest": "public (the app manifest)",
    "/api/ical/schedules/{token}.ics": "secret calendar URL", "/api/ical/users/{token}.ics": "secret calendar URL",
    "/api/session/start": "single-use sign-in code", "/api/session/end": "the caller's own session cookie",
}
READ, ACT, CONFIGURE = Permission.READ, Permission.ACT_ON_INCIDENTS, Permission.CONFIGURE
OWN_ACCOUNT, OWN_PROFILE, READ_AUDIT = Permission.OWN_ACCOUNT, Permission.OWN_PROFILE, Permission.READ_AUDIT
# Overrides: a responder may take a shift (the admin layer: only as the override user); admins any override.
TAKE_SHIFT = Permission.TAKE_SHIFT
# Another user's profile: the route declares OWN_PROFILE; for anyone but that user it takes CONFIGURE.
SELF_OR_ADMIN = "self_or_admin"

API_MATRIX: dict[str, Permission | str] = {
    "GET /api/v1/status-page/components": READ,
    "POST /api/v1/status-page/components": CONFIGURE,
    "PATCH /api/v1/status-page/components/{component_id}": CONFIGURE,
    "DELETE /api/v1/status-page/components/{component_id}": CONFIGURE,
    "GET /api/v1/incidents/{incident_id}/status-updates": READ,
    "POST /api/v1/incidents/{incident_id}/status-updates": ACT,
    "GET /api/v1/incidents": READ,
    "POST /api/v1/incidents": ACT,
    "GET /api/v1/incidents/{incident_id}": READ,
    "POST /api/v1/incidents/{incident_id}/acknowledge": ACT,
    "POST /api/v1/incidents/{incident_id}/resolve": ACT,
    "POST /api/v1/incidents/{incident_id}/snooze": ACT,
    "POST /api/v1/incidents/{incident_id}/escalate": ACT,
    "POST /api/v1/incidents/{incident_id}/reassign": ACT,
    "POST /api/v1/incidents/{incident_id}/notes": ACT,
    "POST /api/v1/incidents/{incident_id}/responders": ACT,
    "POST /api/v1/incidents/{incident_id}/urgency": ACT,
    "POST /api/v1/incidents/{incident_id}/merge": ACT,
    "GET /api/v1/schedules/{schedule_id}/oncall": READ,
    "GET /api/v1/schedules/{schedule_id}/final": READ,
    # services and integrations
    "GET /api/v1/services": READ,
    "POST /api/v1/services": CONFIGURE,
    "GET /api/v1/services/{service_id}": READ,
    "PATCH /api/v1/services/{service_id}": CONFIGURE,
    "DELETE /api/v1/services/{service_id}": CONFIGURE,
    "GET /api/v1/services/{service_id}/integrations": READ,
    "POST /api/v1/services/{service_id}/integrations": CONFIGURE,
    "GET /api/v1/integrations/{integration_id}": READ,
    "PATCH /api/v1/integrations/{integration_id}": CONFIGURE,
    "DELETE /api/v1/integrations/{integration_id}": CONFIGURE,
    "POST /api/v1/integrations/{integration_id}/rotate": CONFIGURE,
    # escalation policies, teams, audit log
    "GET /api/v1/escalation-policies": READ,
    "POST /api/v1/escalation-policies": CONFIGURE,
    "GET /api/v1/escalation-policies/{policy_id}": READ,
    "PATCH /api/v1/escalation-policies/{policy_id}": CONFIGURE,
    "POST /api/v1/escalation-policies/{policy_id}/reorder": CONFIGURE,
    "DELETE /api/v1/escalation-policies/{policy_id}": CONFIGURE,
    "GET /api/v1/teams": READ,
    "POST /api/v1/teams": CONFIGURE,
    "GET /api/v1/teams/{team_id}": READ,
    "PATCH /api/v1/teams/{team_id}": CONFIGURE,
    "DELETE /api/v1/teams/{team_id}": CONFIGURE,
    "GET /api/v1/teams/{team_id}/members": READ,
    "POST /api/v1/teams/{team_id}/members": CONFIGURE,
    "PATCH /api/v1/teams/{team_id}/members/{user_id}": CONFIGURE,
    "DELETE /api/v1/teams/{team_id}/members/{user_id}": CONFIGURE,
    "GET /api/v1/audit": READ_AUDIT,
    # response analytics: the report, and each table as JSON and as CSV
    "GET /api/v1/analytics": READ,
    **{f"GET /api/v1/analytics/{table}{ext}": READ for table in ("summary", "daily", "people", "services", "sources")
       for ext in ("", ".csv")},
    # users and my profile
    "GET /api/v1/users": READ,
    "POST /api/v1/users": CONFIGURE,
    "GET /api/v1/users/{user_id}": READ,
    "PATCH /api/v1/users/{user_id}": CONFIGURE,
    "DELETE /api/v1/users/{user_id}": CONFIGURE,
    "GET /api/v1/users/{user_id}/contact-methods": READ,
    "POST /api/v1/users/{user_id}/contact-methods": SELF_OR_ADMIN,
    "GET /api/v1/users/{user_id}/contact-methods/{contact_id}": READ,
    "PATCH /api/v1/users/{user_id}/contact-methods/{contact_id}": SELF_OR_ADMIN,
    "DELETE /api/v1/users/{user_id}/contact-methods/{contact_id}": SELF_OR_ADMIN,
    "POST /api/v1/users/{user_id}/contact-methods/{contact_id}/test": SELF_OR_ADMIN,
    "GET /api/v1/users/{user_id}/notification-rules": READ,
    "POST /api/v1/users/{user_id}/notification-rules": SELF_OR_ADMIN,
    "PATCH /api/v1/users/{user_id}/notification-rules/{rule_id}": SELF_OR_ADMIN,
    "DELETE /api/v1/users/{user_id}/notification-rules/{rule_id}": SELF_OR_ADMIN,
    "GET /api/v1/me": READ,
    "PATCH /api/v1/me": OWN_PROFILE,
    "GET /api/v1/me/contact-methods": READ,
    "POST /api/v1/me/contact-methods": OWN_PROFILE,
    "GET /api/v1/me/contact-methods/{contact_id}": READ,
    "PATCH /api/v1/me/contact-methods/{contact_id}": OWN_PROFILE,
    "DELETE /api/v1/me/contact-methods/{contact_id}": OWN_PROFILE,
    "POST /api/v1/me/contact-methods/{contact_id}/test": OWN_PROFILE,
    "GET /api/v1/me/notification-rules": READ,
    "POST /api/v1/me/notification-rules": OWN_PROFILE,
    "PATCH /api/v1/me/notification-rules/{rule_id}": OWN_PROFILE,
    "DELETE /api/v1/me/notification-rules/{rule_id}": OWN_PROFILE,
    "GET /api/v1/me/api-keys": READ,
    "POST /api/v1/me/api-keys": OWN_PROFILE,
    "DELETE /api/v1/me/api-keys/{key_id}": OWN_PROFILE,
    "GET /api/v1/me/oncall": READ,
    # schedules, overrides, who is on call
    "GET /api/v1/schedules": READ,
    "POST /api/v1/schedules": CONFIGURE,
    "POST /api/v1/schedules/preview": READ,
    "GET /api/v1/schedules/{schedule_id}": READ,
    "PUT /api/v1/schedules/{schedule_id}": CONFIGURE,
    "PATCH /api/v1/schedules/{schedule_id}": CONFIGURE,
    "DELETE /api/v1/schedules/{schedule_id}": CONFIGURE,
    "GET /api/v1/schedules/{schedule_id}/overrides": READ,
    "POST /api/v1/schedules/{schedule_id}/overrides": TAKE_SHIFT,
    "DELETE /api/v1/schedules/{schedule_id}/overrides/{override_id}": TAKE_SHIFT,
    "GET /api/v1/oncall": READ,
}
HANDLER_MATRIX: dict[str, Permission | str] = {
    "AuthState.require_login": guard.PUBLIC,
    "AuthState.logout": guard.PUBLIC,
    "LoginState.redirect_if_signed_in": guard.PUBLIC,
    "LoginState.submit": guard.PUBLIC,
    # incidents: the dashboard, one incident, a new one by hand
    "DashboardState.load": READ,
    "DashboardState.on_visibility": READ,
    "DashboardState.set_filter": READ,
    "DashboardState.clear_filters": READ,
    "DashboardState.load_more": READ,
    "DashboardState.toggle_selected": READ,
    "DashboardState.select_all": READ,
    "DashboardState.acknowledge": ACT,
    "DashboardState.resolve": ACT,
    "DashboardState.bulk": ACT,
    "IncidentState.load": READ,
    "IncidentState.on_visibility": READ,
    "IncidentState.set_notes_only": READ,
    "IncidentState.acknowledge": ACT,
    "IncidentState.resolve": ACT,
    "IncidentState.snooze": ACT,
    "IncidentState.snooze_custom": ACT,
    "IncidentState.escalate": ACT,
    "IncidentState.reassign": ACT,
    "IncidentState.add_responder": ACT,
    "IncidentState.change_urgency": ACT,
    "IncidentState.add_note": ACT,
    "IncidentState.merge": ACT,
    "IncidentState.post_public_update": ACT,
    # the status page's components
    "StatusComponentsState.load": READ,
    "StatusComponentsState.create": CONFIGURE,
    "StatusComponentsState.open_edit": CONFIGURE,
    "StatusComponentsState.set_edit_open": READ,
    "StatusComponentsState.save_edit": CONFIGURE,
    "StatusComponentsState.delete": CONFIGURE,
    "NewIncidentState.load": READ,
    "NewIncidentState.submit": ACT,
    # services and integrations
    "ServiceDetailState.load": READ,
    "ServiceDetailState.start_maintenance": CONFIGURE,
    "ServiceDetailState.schedule_maintenance": CONFIGURE,
    "ServiceDetailState.end_maintenance": CONFIGURE,
    "ServiceDetailState.delete_service": CONFIGURE,
    "ServiceDetailState.create_integration": CONFIGURE,
    "ServiceDetailState.rotate": CONFIGURE,
    "ServiceDetailState.set_enabled": CONFIGURE,
    "ServiceDetailState.generate_hmac_secret": CONFIGURE,
    "ServiceDetailState.clear_hmac_secret": CONFIGURE,
    "ServiceDetailState.delete_integration": CONFIGURE,
    "ServiceDetailState.open_integration_edit": CONFIGURE,
    "ServiceDetailState.set_integration_edit_open": READ,
    "ServiceDetailState.save_integration": CONFIGURE,
    "ServiceDetailState.set_reveal_open": READ,
    "ServiceDetailState.open_edit": CONFIGURE,
    "ServiceDetailState.set_edit_open": READ,
    "ServiceDetailState.save_edit": CONFIGURE,
    "ServicesState.load": READ,
    "ServicesState.create": CONFIGURE,
    "ServicesState.delete": CONFIGURE,
    "ServicesState.open_edit": CONFIGURE,
    "ServicesState.set_edit_open": READ,
    "ServicesState.save_edit": CONFIGURE,
    # escalation policies, teams, audit log
    "TeamsState.load": READ,
    "TeamsState.open_team": READ,
    "TeamsState.create_team": CONFIGURE,
    "TeamsState.save_team": CONFIGURE,
    "TeamsState.delete_team": CONFIGURE,
    "TeamsState.add_member": CONFIGURE,
    "TeamsState.set_role": CONFIGURE,
    "TeamsState.remove_member": CONFIGURE,
    "AuditState.load": READ_AUDIT,
    "AuditState.apply_filters": READ_AUDIT,
    "AuditState.load_more": READ_AUDIT,
    "AnalyticsState.load": READ,
    "AnalyticsState.apply_filters": READ,
    "AnalyticsState.download": READ,
    "PoliciesState.load": READ,
    "PoliciesState.new_policy": CONFIGURE,
    "PoliciesState.open_policy": READ,
    "PoliciesState.close_editor": READ,
    "PoliciesState.set_name": CONFIGURE,
    "PoliciesState.set_description": CONFIGURE,
    "PoliciesState.set_repeat_count": CONFIGURE,
    "PoliciesState.set_escalate_low_urgency": CONFIGURE,
    "PoliciesState.add_step": CONFIGURE,
    "PoliciesState.remove_step": CONFIGURE,
    "PoliciesState.move_step": CONFIGURE,
    "PoliciesState.set_delay": CONFIGURE,
    "PoliciesState.add_target": CONFIGURE,
    "PoliciesState.remove_target": CONFIGURE,
    "PoliciesState.save": CONFIGURE,
    "PoliciesState.delete": CONFIGURE,
    # users and my profile
    "ProfileState.load": READ,
    "ProfileState.add_contact": OWN_PROFILE,
    "ProfileState.set_contact_enabled": OWN_PROFILE,
    "ProfileState.delete_contact": OWN_PROFILE,
    "ProfileState.send_test": OWN_PROFILE,
    "ProfileState.add_rule": OWN_PROFILE,
    "ProfileState.delete_rule": OWN_PROFILE,
    "ProfileState.save_settings": OWN_PROFILE,
    "ProfileState.change_password": OWN_ACCOUNT,
    "ProfileState.end_session": OWN_ACCOUNT,
    "ProfileState.sign_out_everywhere": OWN_ACCOUNT,
    "ProfileState.create_key": OWN_PROFILE,
    "ProfileState.forget_new_key": READ,
    "ProfileState.revoke_key": OWN_PROFILE,
    "UsersState.load": READ,
    "UsersState.create": CONFIGURE,
    "UsersState.open_edit": CONFIGURE,
    "UsersState.close_edit": READ,
    "UsersState.save_edit": CONFIGURE,
    "UsersState.set_disabled": CONFIGURE,
    "UsersState.open_contacts": CONFIGURE,
    "UsersState.close_contacts": READ,
    "UsersState.add_user_contact": CONFIGURE,
    "UsersState.delete_user_contact": CONFIGURE,
    # schedules
    "ScheduleListState.load": READ,
    "ScheduleListState.create": CONFIGURE,
    "ScheduleEditState.load": READ,
    "ScheduleEditState.set_weeks": READ,
    "ScheduleEditState.save_details": CONFIGURE,
    "ScheduleEditState.delete_schedule": CONFIGURE,
    "ScheduleEditState.add_layer": CONFIGURE,
    "ScheduleEditState.remove_layer": CONFIGURE,
    "ScheduleEditState.set_layer_field": CONFIGURE,
    "ScheduleEditState.add_member": CONFIGURE,
    "ScheduleEditState.remove_member": CONFIGURE,
    "ScheduleEditState.move_member": CONFIGURE,
    "ScheduleEditState.add_restriction": CONFIGURE,
    "ScheduleEditState.remove_restriction": CONFIGURE,
    "ScheduleEditState.toggle_day": CONFIGURE,
    "ScheduleEditState.set_restriction_time": CONFIGURE,
    "ScheduleEditState.preview": READ,
    "ScheduleEditState.save_layers": CONFIGURE,
    "ScheduleEditState.discard": READ,
    "ScheduleEditState.set_override_field": TAKE_SHIFT,
    "ScheduleEditState.add_override": TAKE_SHIFT,
    "ScheduleEditState.delete_override": TAKE_SHIFT,
    # my on call
    "OnCallState.load": READ,
    "OnCallState.pick_colleague": READ,
    "OnCallState.take_shift": TAKE_SHIFT,
    "OnCallState.give_shift": TAKE_SHIFT,
}
FAKE_ID = "2147483000"  # valid for every int path parameter, matches no row


@dataclass(frozen=True)
class Caller:
    name: str
    principal: accounts.Principal | None  # what the permission model sees (None: nobody)
    headers: dict
    session_token: str | None  # None: an API-key-only caller, not tried on state handlers


def _api_routes() -> list[APIRoute]:
    def walk(routes):
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # FastAPI's included-router wrapper
                yield from walk(route.original_router.routes)

    return list(walk(create_api().routes))


def _permission_of(route: APIRoute) -> Permission | None:
    def walk(dependant):
        for dep in dependant.dependencies:
            found = getattr(dep.call, "permission", None) or walk(dep)
            if found:
                return found
        return None

    return walk(route.dependant)


def _user(session, role: str, *, disabled: bool = False) -> tuple[User, str, str]:
    user = accounts.create_user(session, email=f"{role}-{'off' if disabled else 'on'}@matrix.example.com",
                                name=role, role=role, password="pw-long-enough")
    key, _ = accounts.create_api_key(session, user, name="matrix", scopes=("read", "write"))
    token = accounts.create_session(session, user, days=1)
    return user, key, token


@pytest.fixture
def callers(session) -> list[Caller]:
    out = [Caller("signed out", None, {}, "")]
    for role in (Role.VIEWER, Role.RESPONDER, Role.ADMIN):
        user, key, token = _user(session, role)
        principal = accounts.Principal(user_id=user.id, email=user.email, name=user.name, role=role)
        out.append(Caller(role, principal, {"Authorization": f"Bearer {key}"}, token))
    admin = session.get(User, out[-1].principal.user_id)
    read_key, _ = accounts.create_api_key(session, admin, name="read-only", scopes=("read",))
    out.append(Caller("read-only admin key", accounts.Principal(user_id=admin.id, email=admin.email, name="admin",
                                                               role="admin", scopes=("read",)),
                      {"Authorization": f"Bearer {read_key}"}, None))
    revoked_key, revoked = accounts.create_api_key(session, admin, name="revoked", scopes=("read", "write"))
    revoked_session = accounts.create_session(session, admin, days=1)
    session.flush()
    revoked.revoked_at = revoked.created_at
    accounts.revoke_session(session, revoked_session)
    out.append(Caller("revoked key/session", None, {"Authorization": f"Bearer {revoked_key}"}, revoked_session))
    disabled, key, token = _user(session, Role.ADMIN, disabled=True)
    disabled.status = UserStatus.DISABLED
    out.append(Caller("disabled admin", None, {"Authorization": f"Bearer {key}"}, token))
    session.commit()
    return out


def _operations():
    for route in _api_routes():
        for method in sorted(route.methods - {"HEAD"}):
            yield f"{method} {route.path}", route, method


def _declared(rule: Permission | str) -> Permission:
    return OWN_PROFILE if rule == SELF_OR_ADMIN else rule


def _cases(rule: Permission | str, path: str, caller: Caller) -> list[tuple[str, Permission]]:
    """(path to call, permission that decides) — SELF_OR_ADMIN routes are called on someone else and on oneself."""
    if rule != SELF_OR_ADMIN:
        return [(re.sub(r"\{[^}]+\}", FAKE_ID, path), rule)]
    own = str(caller.principal.user_id) if caller.principal else FAKE_ID
    return [(re.sub(r"\{[^}]+\}", FAKE_ID, path), CONFIGURE),
            (re.sub(r"\{[^}]+\}", FAKE_ID, path.replace("{user_id}", own)), OWN_PROFILE)]


def test_every_route_declares_exactly_the_permission_in_the_matrix():
    wrong, seen = [], set()
    for operation, route, _ in _operations():
        seen.add(operation)
        if not route.path.startswith("/api/v1/"):
            if route.path not in NOT_API_KEY_ROUTES:
                wrong.append(f"{operation}: not /api/v1 and not in NOT_API_KEY_ROUTES")
        elif operation not in API_MATRIX:
            wrong.append(f"{operation}: no entry in API_MATRIX")
        elif _permission_of(route) != _declared(API_MATRIX[operation]):
            wrong.append(f"{operation}: declares {_permission_of(route)}, the matrix says {API_MATRIX[operation]}")
    wrong += [f"{operation}: in API_MATRIX but not in the app" for operation in set(API_MATRIX) - seen]
    assert wrong == []


def test_every_api_route_answers_each_caller_as_the_model_says(client, callers):
    wrong = []
    for operation, route, method in _operations():
        rule = API_MATRIX.get(operation)
        if rule is None:
            continue
        for caller in callers:
            for path, permission in _cases(rule, route.path, caller):
                response = client.request(method, path, headers=caller.headers,
                                          json={} if method in {"POST", "PUT", "PATCH"} else None)
                if caller.principal is None:
                    ok = response.status_code == 401
                elif allowed(caller.principal, permission):
                    ok = response.status_code not in (401, 403) and response.status_code < 500
                else:
                    ok = response.status_code == 403
                if not ok:
                    wrong.append(f"{method} {path} as {caller.name}: {response.status_code}")
                if response.status_code in (401, 403):
                    assert response.json()["error"]["code"] in ("unauthorized", "forbidden"), response.text
    assert wrong == []


def _opsknight_states():
    def walk(cls):
        for sub in cls.get_substates():
            yield sub
            yield from walk(sub)

    import opsknight.opsknight  # noqa: F401 — registers every page's state

    return [cls for cls in walk(rx.State) if cls.__module__.startswith("opsknight.")]


def _own_handlers(cls):
    """The handlers `cls` defines (inherited ones are checked on the class that defines them)."""
    parent = cls.get_parent_state()
    inherited = set(parent.event_handlers) if parent else set()
    for name, handler in cls.event_handlers.items():
        if name != "setvar" and name not in inherited:
            yield name, handler


def test_every_state_handler_declares_exactly_the_permission_in_the_matrix():
    wrong, seen = [], set()
    for cls in _opsknight_states():
        for name, handler in _own_handlers(cls):
            key = f"{cls.__name__}.{name}"
            seen.add(key)
            declared = getattr(handler.fn, guard.PERMISSION_ATTR, None)
            if key not in HANDLER_MATRIX:
                wrong.append(f"{key}: no entry in HANDLER_MATRIX")
            elif declared != HANDLER_MATRIX[key]:
                wrong.append(f"{key}: declares {declared}, the matrix says {HANDLER_MATRIX[key]}")
    wrong += [f"{key}: in HANDLER_MATRIX but not in the app" for key in set(HANDLER_MATRIX) - seen]
    assert wrong == []


def _run(coroutine):
    """asyncio.run in a thread of its own: Playwright's sync API (e2e tests, same session) keeps a loop running
    in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _call(state, handler):
    params = list(inspect.signature(handler.fn).parameters.values())[1:]
    args = [{} if p.annotation in (dict, "dict") else "" for p in params
            if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    try:
        result = handler.fn(state, *args)
        if inspect.isasyncgen(result):
            async for first in result:
                return first
            return None
        return await result
    except Exception as exc:  # past the guard: the body ran and choked on the test's empty arguments
        return exc


def _fresh_session(caller: Caller) -> str:
    """A new session for a signed-in caller: handlers allowed to run may end sessions (sign out everywhere,
    password change), which must not turn the next case into a signed-out one."""
    if caller.principal is None:
        return caller.session_token
    with session_scope() as db:
        return accounts.create_session(db, db.get(User, caller.principal.user_id), days=1)


def test_every_state_handler_answers_each_caller_as_the_model_says(pg, callers, caplog):
    assert settings().database_url.startswith("postgresql")
    wrong = []
    for cls in _opsknight_states():
        for name, handler in _own_handlers(cls):
            permission = HANDLER_MATRIX.get(f"{cls.__name__}.{name}")
            if permission in (None, guard.PUBLIC):
                continue
            for caller in callers:
                if caller.session_token is None:
                    continue
                root = rx.State(_reflex_internal_init=True)
                state = root.get_substate(cls.get_full_name().split(".")[1:])
                root.router = RouterData.from_router_data(
                    {"headers": {"cookie": f"{SESSION_COOKIE}={_fresh_session(caller)}"}})
                caplog.clear()
                with caplog.at_level(logging.WARNING, logger=guard.__name__):
                    result = _run(_call(state, handler))
                refused = any(r.getMessage().startswith(f"refused {cls.__name__}.") for r in caplog.records)
                expected_refusal = not allowed(caller.principal, permission)
                if refused != expected_refusal:
                    wrong.append(f"{cls.__name__}.{name} as {caller.name}: {'refused' if refused else 'ran'}")
                if refused and caller.principal is None:  # signed out: back to sign-in, then here again
                    assert "/login?next=" in str(result), result
    assert wrong == []


# --- inbound channel paths ----------------------------------------------------------------------------------------
# A person acting from a Slack button, an SMS or WhatsApp reply or an acknowledge link (email, push) is identified
# by the channel, not by a session or a key; they must still pass the same rule as the API and the pages.
INBOUND_MATRIX: dict[str, Permission] = {
    "Slack button: acknowledge": ACT,
    "Slack button: resolve": ACT,
    "SMS reply: ack": ACT,
    "SMS reply: resolve": ACT,
    "WhatsApp reply: ack": ACT,
    "WhatsApp reply: resolve": ACT,
    "acknowledge link (email, push)": ACT,
}
SLACK_SECRET = "matrix-slack-signing-secret"
TWILIO_TOKEN = "matrix-twilio-auth-token"


def _inbound_request(client, path: str, caller_index: int, incident, delivery_id: int):
    """Send one inbound action as the caller's own contact method; returns (status, text answered)."""
    import hashlib
    import hmac
    import json
    import time
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    from opsknight.engine import acks, clock

    channel, _, verb = path.partition(": ")
    if channel == "Slack button":
        payload = {"type": "block_actions", "user": {"id": f"UMATRIX{caller_index}"},
                   "actions": [{"action_id": "ack" if verb == "acknowledge" else "resolve", "value": str(incident.id)}]}
        body = urlencode({"payload": json.dumps(payload)})
        ts = str(int(time.time()))
        sig = "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        response = client.post("/api/slack/interactions", content=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig})
        return response.status_code, response.json().get("text", "")
    if channel in ("SMS reply", "WhatsApp reply"):
        phone = f"+1555000{caller_index:04d}"
        params = {"From": f"whatsapp:{phone}" if channel.startswith("WhatsApp") else phone,
                  "Body": f"{verb} {incident.number}"}
        url = "http://testserver/api/twilio/inbound"
        response = client.post("/api/twilio/inbound", data=params, headers={
            "X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(url, params)})
        return response.status_code, response.text
    token = acks.make_token(delivery_id, clock.now())
    response = client.post(f"/api/ack/{token}", headers={"Accept": "application/json"})
    return response.status_code, response.text


def test_every_inbound_channel_acts_only_for_those_the_model_allows(client, session, callers, monkeypatch):
    """Each caller owns a Slack id, a phone number (SMS and WhatsApp) and an email delivery; each inbound path is
    tried as each of them on a fresh triggered incident. Allowed: the incident changes. Refused: nothing changes
    and the person is told so in the channel they used."""
    from opsknight.config import reset_settings
    from opsknight.models import ContactMethod, Delivery, Incident
    from tests.factories import make_service

    monkeypatch.setenv("OPSKNIGHT_SLACK_SIGNING_SECRET", SLACK_SECRET)
    monkeypatch.setenv("OPSKNIGHT_TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
    monkeypatch.setenv("OPSKNIGHT_BASE_URL", "http://testserver")
    reset_settings()
    people = [(index, caller) for index, caller in enumerate(callers) if caller.name in
              ("viewer", "responder", "admin", "disabled admin")]
    disabled_id = session.exec(select(User.id).where(User.status == UserStatus.DISABLED)).one()
    for index, caller in people:
        user_id = caller.principal.user_id if caller.principal else disabled_id
        session.add(ContactMethod(user_id=user_id, kind="slack", address=f"UMATRIX{index}"))
        session.add(ContactMethod(user_id=user_id, kind="sms", address=f"+1555000{index:04d}"))
        session.add(ContactMethod(user_id=user_id, kind="whatsapp", address=f"+1555000{index:04d}"))
    service = make_service(session)
    session.commit()
    wrong, number = [], 9000
    for path, permission in INBOUND_MATRIX.items():
        for index, caller in people:
            number += 1
            incident = Incident(number=number, title="matrix", dedup_key=f"matrix-{number}", service_id=service.id)
            session.add(incident)
            session.flush()
            user_id = caller.principal.user_id if caller.principal else disabled_id
            delivery = Delivery(incident_id=incident.id, user_id=user_id, channel="email", target="x@example.com",
                                idempotency_key=f"matrix-{number}")
            session.add(delivery)
            session.commit()
            status, text = _inbound_request(client, path, index, incident, delivery.id)
            session.refresh(incident)
            acted = incident.status != "triggered"
            should = allowed(caller.principal, permission)
            if acted != should or status >= 500:
                wrong.append(f"{path} as {caller.name}: {status} {'acted' if acted else 'refused'}: {text[:80]}")
            if caller.principal is not None and not should and "can't" not in text:
                wrong.append(f"{path} as {caller.name}: refused without saying so: {text[:120]}")
    assert wrong == []
