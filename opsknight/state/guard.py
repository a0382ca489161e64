"""Server-side permission checks for Reflex event handlers, and the registry the authorization matrix reads.

Every event handler that reads or changes data is declared with `@guarded(Permission.X)`: the session is
re-read from the database, the permission checked, and only then does the handler run, with the checked
principal available as `actor()`. Handlers that need no sign-in (the login form) say so with `@public`.
`tests/integration/test_authorization_matrix.py` fails for any opsknight handler that is neither.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from contextvars import ContextVar

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


log = logging.getLogger(__name__)


@contextlib.contextmanager
def acting_as(principal: Principal):
    """`actor()` for server-initiated work on a page (a live push), whose principal the caller checked."""
    token = _ACTOR.set(principal)
    try:
        yield principal
    finally:
        _ACTOR.reset(token)


def denied(state, handler_name: str, principal: Principal | None):
    """Refuse an event: logged (who tried what), then back to sign-in when signed out, else an error toast."""
    who = principal.email if principal else "a signed-out visitor"
    log.warning("refused %s.%s to %s", type(state).__name__, handler_name, who)
    if principal is None:
        return rx.redirect(routes.login_url(state.router.url.path), replace=True)
    return rx.toast.error(DENIED_MESSAGE)


def guarded(permission: Permission):
    """Run the handler only for a signed-in principal allowed `permission` (checked on every event)."""

    def decorate(fn):
        if inspect.isasyncgenfunction(fn):  # a handler that yields to push intermediate state

            @functools.wraps(fn)
            async def handler(self, *args, **kwargs):
                principal = await self._principal()
                if not allowed(principal, permission):
                    yield denied(self, fn.__name__, principal)
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
                    return denied(self, fn.__name__, principal)
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
