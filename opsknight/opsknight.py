"""Builds the Reflex app: pages, the FastAPI routes under /api, and lifespan tasks. Nothing else."""

import reflex as rx

from opsknight import routes
from opsknight.api import create_api
from opsknight.lifespan import app_lifespan
from opsknight.pages.incidents import IncidentsState, incidents_page
from opsknight.pages.login import login_page
from opsknight.pages.schedules import schedule_page, schedules_page
from opsknight.state.auth import AuthState
from opsknight.state.login import LoginState
from opsknight.state.schedule_editor import ScheduleEditState
from opsknight.state.schedules import ScheduleListState

app = rx.App(api_transformer=create_api())
app.register_lifespan_task(app_lifespan)
app.add_page(login_page, route=routes.LOGIN, title="Sign in · OpsKnight", on_load=LoginState.redirect_if_signed_in)
app.add_page(incidents_page, route=routes.HOME, title="Incidents · OpsKnight",
             on_load=[AuthState.require_login, IncidentsState.load])
app.add_page(schedule_page, route="/schedules/[schedule_id]", title="Schedule · OpsKnight",
             on_load=[AuthState.require_login, ScheduleEditState.load])
app.add_page(schedules_page, route="/schedules", title="Schedules · OpsKnight",
             on_load=[AuthState.require_login, ScheduleListState.load])
