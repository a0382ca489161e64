"""Builds the Reflex app: pages, the FastAPI routes under /api, and lifespan tasks. Nothing else."""

import reflex as rx

from opsknight import routes
from opsknight.api import create_api
from opsknight.lifespan import app_lifespan
from opsknight.live.pages import follow_batches
from opsknight.live.relay import relay
from opsknight.pages.analytics import analytics_page
from opsknight.pages.audit import AuditState, audit_page
from opsknight.pages.incident import incident_page
from opsknight.pages.incident_new import new_incident_page
from opsknight.pages.incidents import incidents_page
from opsknight.pages.login import login_page
from opsknight.pages.not_found import not_found_page
from opsknight.pages.oncall import oncall_page
from opsknight.pages.policies import PoliciesState, policies_page
from opsknight.pages.profile import profile_page
from opsknight.pages.schedules import schedule_page, schedules_page
from opsknight.pages.service_detail import ServiceDetailState, service_detail_page
from opsknight.pages.services import ServicesState, services_page
from opsknight.pages.status_components import status_components_page
from opsknight.pages.teams import TeamsState, teams_page
from opsknight.pages.users import users_page
from opsknight.state.analytics import AnalyticsState
from opsknight.state.auth import AuthState
from opsknight.state.incident import IncidentState
from opsknight.state.incident_new import NewIncidentState
from opsknight.state.incidents import DashboardState
from opsknight.state.login import LoginState
from opsknight.state.oncall import OnCallState
from opsknight.state.profile import ProfileState
from opsknight.state.schedule_editor import ScheduleEditState
from opsknight.state.schedules import ScheduleListState
from opsknight.state.status_components import StatusComponentsState
from opsknight.state.users import UsersState

app = rx.App(
    api_transformer=create_api(),
    stylesheets=["/opsknight.css"],
    head_components=[rx.el.link(rel="manifest", href="/manifest.webmanifest"),
                     rx.el.link(rel="apple-touch-icon", href="/icons/apple-touch-icon.png"),
                     rx.el.meta(name="theme-color", content="#3e63dd"),
                     rx.el.meta(name="apple-mobile-web-app-capable", content="yes"),
                     rx.el.script(src="/push.js", defer=True),  # the service worker, and web push subscribe
                     rx.el.script(src="/shortcuts.js", defer=True)],
)
app.register_lifespan_task(app_lifespan)
app.register_lifespan_task(relay)
app.register_lifespan_task(follow_batches)
app.add_page(login_page, route=routes.LOGIN, title="Sign in · OpsKnight", on_load=LoginState.redirect_if_signed_in)
for route in (routes.HOME, routes.INCIDENTS):
    app.add_page(incidents_page, route=route, title="Incidents · OpsKnight",
                 on_load=[AuthState.require_login, DashboardState.load])
app.add_page(new_incident_page, route="/incidents/new", title="New incident · OpsKnight",
             on_load=[AuthState.require_login, NewIncidentState.load])
app.add_page(incident_page, route="/incidents/[incident_id]", title="Incident · OpsKnight",
             on_load=[AuthState.require_login, IncidentState.load])
app.add_page(services_page, route="/services", title="Services · OpsKnight",
             on_load=[AuthState.require_login, ServicesState.load])
app.add_page(service_detail_page, route="/services/[service_id]", title="Service · OpsKnight",
             on_load=[AuthState.require_login, ServiceDetailState.load])
app.add_page(policies_page, route="/escalation-policies", title="Escalation policies · OpsKnight",
             on_load=[AuthState.require_login, PoliciesState.load])
app.add_page(teams_page, route="/teams", title="Teams · OpsKnight", on_load=[AuthState.require_login, TeamsState.load])
app.add_page(audit_page, route="/audit", title="Audit log · OpsKnight", on_load=[AuthState.require_login, AuditState.load])
app.add_page(profile_page, route=routes.PROFILE, title="My profile · OpsKnight",
             on_load=[AuthState.require_login, ProfileState.load])
app.add_page(users_page, route=routes.USERS, title="Users · OpsKnight",
             on_load=[AuthState.require_login, UsersState.load])
app.add_page(schedule_page, route="/schedules/[schedule_id]", title="Schedule · OpsKnight",
             on_load=[AuthState.require_login, ScheduleEditState.load])
app.add_page(schedules_page, route="/schedules", title="Schedules · OpsKnight",
             on_load=[AuthState.require_login, ScheduleListState.load])
app.add_page(oncall_page, route="/oncall", title="On call · OpsKnight",
             on_load=[AuthState.require_login, OnCallState.load])
app.add_page(status_components_page, route=routes.STATUS_ADMIN, title="Status page · OpsKnight",
             on_load=[AuthState.require_login, StatusComponentsState.load])
app.add_page(analytics_page, route=routes.ANALYTICS, title="Analytics · OpsKnight",
             on_load=[AuthState.require_login, AnalyticsState.load])
app.add_page(not_found_page, route="404", title="Not found · OpsKnight")
