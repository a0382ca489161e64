"""Sign-in state: who is signed in, and the guard every signed-in page runs on load.

The session token lives in an HttpOnly cookie that only `opsknight.api.session` sets and clears; page scripts
never see it. The server reads it from the websocket's handshake headers and keeps only its digest. Every event
re-checks the token against the database, so a revoked session or a disabled user is out at once.
"""

from __future__ import annotations

import asyncio
import json
from http.cookies import CookieError, SimpleCookie

import reflex as rx

from opsknight import accounts, routes
from opsknight.api.session import SESSION_COOKIE
from opsknight.db import session_scope
from opsknight.permissions import ROLE_RANK, RULES, Permission
from opsknight.state.guard import public


def session_token_from(cookie_header: str) -> str:
    try:
        morsel = SimpleCookie(cookie_header or "").get(SESSION_COOKIE)
    except CookieError:
        return ""
    return morsel.value if morsel else ""


def go(url: str):
    """A full page load (not a client-side route change), so the browser talks to the server's `/api/...`."""
    return rx.call_script(f"window.location.replace({json.dumps(url)})")


def post_to(url: str, fields: dict[str, str]):
    """Navigate by posting a form (a full page load, like `go`), so the server sees a same-origin POST."""
    return rx.call_script(
        "(() => { const form = document.createElement('form'); form.method = 'post'; "
        f"form.action = {json.dumps(url)}; "
        f"for (const [name, value] of Object.entries({json.dumps(fields)})) {{ "
        "const input = document.createElement('input'); input.type = 'hidden'; input.name = name; "
        "input.value = value; form.appendChild(input); } "
        "document.body.appendChild(form); form.submit(); })()")


def _load_principal(token: str) -> accounts.Principal | None:
    with session_scope() as db:
        return accounts.principal_for_session(db, token)


class AuthState(rx.State):
    user_name: str = ""
    user_email: str = ""
    user_role: str = ""

    @rx.var
    def is_authenticated(self) -> bool:
        return self.user_email != ""

    @rx.var
    def is_admin(self) -> bool:
        return self.user_role == "admin"

    @rx.var
    def can_act(self) -> bool:
        """Shows the action buttons; the handlers check the permission themselves."""
        return ROLE_RANK.get(self.user_role, -1) >= ROLE_RANK[RULES[Permission.ACT_ON_INCIDENTS][0]]

    def _clear(self) -> None:
        self.user_name = self.user_email = self.user_role = ""

    def _session_token(self) -> str:
        return session_token_from(self.router.headers.cookie)

    async def _principal(self) -> accounts.Principal | None:
        """The signed-in principal, re-read from the database (never trusted from client state)."""
        token = self._session_token()
        if not token:
            return None
        return await asyncio.to_thread(_load_principal, token)

    @rx.event
    @public  # the sign-in check itself
    async def require_login(self):
        """on_load guard for every signed-in page."""
        principal = await self._principal()
        if principal is None:
            self._clear()
            return rx.redirect(routes.login_url(self.router.url.path), replace=True)
        self.user_name, self.user_email, self.user_role = principal.name, principal.email, principal.role

    @rx.event
    @public  # ends only the caller's own session
    async def logout(self):
        self._clear()
        return go("/api/session/end")
