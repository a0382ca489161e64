"""Calling the admin layer from a Reflex event handler: in a worker thread, one transaction, as the checked actor."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from opsknight.admin import AdminError
from opsknight.db import session_scope
from opsknight.state.guard import actor


async def admin_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(db, actor, *args, **kwargs)` off the event loop; an `AdminError` comes back to the caller to show."""
    principal = actor()

    def run() -> Any:
        with session_scope() as db:
            return fn(db, principal, *args, **kwargs)

    return await asyncio.to_thread(run)


async def attempt(state: Any, error_var: str, fn: Callable[..., Any], *args: Any) -> bool:
    """`admin_call(fn, *args)` for a form: a refusal's message goes to `state.<error_var>` (cleared when the
    call goes through). True when it went through."""
    try:
        await admin_call(fn, *args)
    except AdminError as exc:
        setattr(state, error_var, exc.message)
        return False
    setattr(state, error_var, "")
    return True
