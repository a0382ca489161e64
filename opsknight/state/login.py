"""The login form's state."""

from __future__ import annotations

import asyncio

import reflex as rx

from opsknight import routes
from opsknight.admin import signin
from opsknight.state.auth import AuthState
from opsknight.state.guard import public


class LoginState(AuthState):
    error: str = ""
    busy: bool = False

    @rx.event
    @public
    async def redirect_if_signed_in(self):
        if await self._principal() is not None:
            return rx.redirect(routes.HOME, replace=True)

    @rx.event
    @public
    async def submit(self, form: dict):
        self.error = ""
        email = str(form.get("email", "")).strip()
        password = str(form.get("password", ""))
        if not email or not password:
            self.error = "Enter your email and password."
            return
        self.busy = True
        yield
        result = await asyncio.to_thread(
            signin.sign_in, email, password, ip=self.router.session.client_ip,
            user_agent=self.router.headers.user_agent, previous_token=self.session_token,
        )
        self.busy = False
        if result.principal is None:
            self.error = result.error
            return
        self.session_token = result.token
        principal = result.principal
        self.user_name, self.user_email, self.user_role = principal.name, principal.email, principal.role
        yield rx.redirect(routes.safe_next(self.router.url.query_parameters.get("next")), replace=True)
