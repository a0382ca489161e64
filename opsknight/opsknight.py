"""Builds the Reflex app: pages, the FastAPI routes under /api, and lifespan tasks. Nothing else."""

import reflex as rx

from opsknight import routes
from opsknight.api import create_api
from opsknight.lifespan import app_lifespan
from opsknight.pages.incidents import IncidentsState, incidents_page
from opsknight.pages.login import login_page
from opsknight.pages.profile import profile_page
from opsknight.pages.users import users_page
from opsknight.state.auth import AuthState
from opsknight.state.login import LoginState
from opsknight.state.profile import ProfileState
from opsknight.state.users import UsersState

app = rx.App(api_transformer=create_api())
app.register_lifespan_task(app_lifespan)
app.add_page(login_page, route=routes.LOGIN, title="Sign in · OpsKnight", on_load=LoginState.redirect_if_signed_in)
app.add_page(incidents_page, route=routes.HOME, title="Incidents · OpsKnight",
             on_load=[AuthState.require_login, IncidentsState.load])
app.add_page(profile_page, route=routes.PROFILE, title="My profile · OpsKnight",
             on_load=[AuthState.require_login, ProfileState.load])
app.add_page(users_page, route=routes.USERS, title="Users · OpsKnight",
             on_load=[AuthState.require_login, UsersState.load])
