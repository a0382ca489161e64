"""Sign-in state: the session cookie, who is signed in, and the guard every signed-in page runs on load.

The session token lives in a cookie; the server keeps only its digest. Every load of a signed-in page
re-checks the token against the database, so a revoked session or a disabled user is out at once.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from opsknight import accounts, routes
from opsknight.config import settings
from opsknight.db import session_scope
from opsknight.state.guard import public

SESSION_COOKIE = "opsknight_session"


def _load_principal(token: str) -> accounts.Principal | None:
    with session_scope() as db:
        return accounts.principal_for_session(db, token)


def _revoke(token: str) -> None:
    with session_scope() as db:
        accounts.revoke_session(db, token)


class AuthState(rx.State):
    session_token: str = rx.Cookie(
        "", name=SESSION_COOKIE, same_site="strict", secure=settings().secure_cookies,
        max_age=settings().session_days * 86400,
    )
    user_name: str = ""
    user_email: str = ""
    user_role: str = ""

    @rx.var
    def is_authenticated(self) -> bool:
        return self.user_email != ""

    @rx.var
    def is_admin(self) -> bool:
        return self.user_role == "admin"

    def _clear(self) -> None:
        self.user_name = self.user_email = self.user_role = ""

    async def _principal(self) -> accounts.Principal | None:
        """The signed-in principal, re-read from the database (never trusted from client state)."""
        if not self.session_token:
            return None
        return await asyncio.to_thread(_load_principal, self.session_token)

    @rx.event
    @public  # the sign-in check itself
    async def require_login(self):
        """on_load guard for every signed-in page."""
        principal = await self._principal()
        if principal is None:
            self._clear()
            self.session_token = ""
            return rx.redirect(routes.login_url(self.router.url.path), replace=True)
        self.user_name, self.user_email, self.user_role = principal.name, principal.email, principal.role

    @rx.event
    @public  # revokes only the caller's own session
    async def logout(self):
        if self.session_token:
            await asyncio.to_thread(_revoke, self.session_token)
        self._clear()
        self.session_token = ""
        return rx.redirect(routes.LOGIN, replace=True)
