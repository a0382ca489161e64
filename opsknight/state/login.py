"""The login form's state."""

from __future__ import annotations

import asyncio

import reflex as rx

from opsknight import accounts, routes
from opsknight.config import settings
from opsknight.db import session_scope
from opsknight.state.auth import AuthState
from opsknight.state.guard import public


def _sign_in(email: str, password: str, ip: str, user_agent: str) -> tuple[str, accounts.Principal] | None:
    with session_scope() as db:
        user = accounts.authenticate(db, email, password)
        if user is None:
            return None
        token = accounts.create_session(db, user, days=settings().session_days, ip=ip, user_agent=user_agent)
        return token, accounts.Principal(user_id=user.id, email=user.email, name=user.name, role=user.role)


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
            _sign_in, email, password, self.router.session.client_ip, self.router.headers.user_agent
        )
        self.busy = False
        if result is None:
            self.error = "Wrong email or password."
            return
        token, principal = result
        self.session_token = token
        self.user_name, self.user_email, self.user_role = principal.name, principal.email, principal.role
        yield rx.redirect(routes.safe_next(self.router.url.query_parameters.get("next")), replace=True)
