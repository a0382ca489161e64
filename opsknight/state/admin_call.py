"""Calling the admin layer from a Reflex event handler: in a worker thread, one transaction, as the checked actor."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from opsknight.db import session_scope
from opsknight.state.guard import actor


async def admin_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(db, actor, *args, **kwargs)` off the event loop; an `AdminError` comes back to the caller to show."""
    principal = actor()

    def run() -> Any:
        with session_scope() as db:
            return fn(db, principal, *args, **kwargs)

    return await asyncio.to_thread(run)
