"""The login form's state."""

from __future__ import annotations

import asyncio

import reflex as rx

import redis

from opsknight import routes
from opsknight.admin import signin
from opsknight.api import session as session_api
from opsknight.state.auth import AuthState, post_to
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
            user_agent=self.router.headers.user_agent, previous_token=self._session_token(),
        )
        self.busy = False
        if result.principal is None:
            self.error = result.error
            return
        try:  # the browser swaps the code for the HttpOnly cookie (see opsknight.api.session)
            code = await asyncio.to_thread(session_api.issue_code, result.token)
        except redis.RedisError:
            self.error = "Signing in is unavailable right now (Redis is unreachable); try again shortly."
            return
        yield post_to(session_api.START_PATH,
                      {"code": code, "next": routes.safe_next(self.router.url.query_parameters.get("next"))})
