"""Server-side permission checks for Reflex event handlers, and the registry the authorization matrix reads.

Every event handler that reads or changes data is declared with `@guarded(Permission.X)`: the session is
re-read from the database, the permission checked, and only then does the handler run, with the checked
principal available as `actor()`. Handlers that need no sign-in (the login form) say so with `@public`.
`tests/integration/test_authorization_matrix.py` fails for any opsknight handler that is neither.
"""

from __future__ import annotations

import functools
import inspect
from contextvars import ContextVar
from urllib.parse import quote

import reflex as rx

from opsknight import routes
from opsknight.accounts import Principal
from opsknight.permissions import Permission, allowed

_ACTOR: ContextVar[Principal | None] = ContextVar("opsknight_actor", default=None)
PERMISSION_ATTR = "__opsknight_permission__"
PUBLIC = "public"
DENIED_MESSAGE = "You are not allowed to do this."


def actor() -> Principal:
    """The principal `@guarded` checked for the event being handled."""
    principal = _ACTOR.get()
    if principal is None:
        raise RuntimeError("actor() outside a @guarded event handler")
    return principal


def denied(principal: Principal | None, path: str):
    """What a refused event returns: to the login page (and back to `path` after it) when signed out, else an
    error toast. Keeping `next` matters: a page's own on_load runs after the sign-in guard's redirect and wins."""
    if principal is None:
        return rx.redirect(f"{routes.LOGIN}?next={quote(path or routes.HOME)}", replace=True)
    return rx.toast.error(DENIED_MESSAGE)


def guarded(permission: Permission):
    """Run the handler only for a signed-in principal allowed `permission` (checked on every event)."""

    def decorate(fn):
        if inspect.isasyncgenfunction(fn):  # a handler that yields to push intermediate state

            @functools.wraps(fn)
            async def handler(self, *args, **kwargs):
                principal = await self._principal()
                if not allowed(principal, permission):
                    yield denied(principal, self.router.url.path)
                    return
                token = _ACTOR.set(principal)
                try:
                    async for update in fn(self, *args, **kwargs):
                        yield update
                finally:
                    _ACTOR.reset(token)
        else:

            @functools.wraps(fn)
            async def handler(self, *args, **kwargs):
                principal = await self._principal()
                if not allowed(principal, permission):
                    return denied(principal, self.router.url.path)
                token = _ACTOR.set(principal)
                try:
                    return await fn(self, *args, **kwargs)
                finally:
                    _ACTOR.reset(token)

        setattr(handler, PERMISSION_ATTR, permission)
        return handler

    return decorate


def public(fn):
    """Mark a handler that needs no sign-in (it must not read or change anything beyond its own form)."""
    setattr(fn, PERMISSION_ATTR, PUBLIC)
    return fn
