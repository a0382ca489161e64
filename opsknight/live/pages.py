"""The open pages of this web process that follow live changes, and pushing each batch to them.

Every web process subscribes to the relay's batches (one Redis message per batch for all processes). For each
page whose socket lives in this process it runs one `app.modify_state` on that page's own state: the page
re-reads its own view (`LivePage._on_live`) and Reflex sends the page the delta. One update per page per batch,
done by the process that holds the page's socket — no relay of deltas between processes, no extra round trip
from the browser, no lock shared by every page.

(The first design linked every page to one `rx.SharedState`; bench/live.py measured it with 50 dashboards at
867 ms of web CPU per change, p95 555 ms, and an acknowledge round trip of 1.2 s at 100 webhooks/s: each change
cost a lock/load/delta cycle per page on the shared state's lock, plus each page's own re-read as a second event.)

A page re-checks its session at most every SESSION_CHECK_SECONDS while it only receives pushes; every event it
sends (every action) is checked at once as always (`state.guard`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from opsknight.accounts import Principal

log = logging.getLogger(__name__)

BATCH_CHANNEL = "opsknight:live:batches"  # "<version>:<id>,<id>,..." — no ids: anything may have changed
PUSHES_AT_ONCE = 8
SESSION_CHECK_SECONDS = 5.0

_pages: dict[str, type] = {}  # client token -> the page's state class, for pages whose socket is in this process


class LivePage:
    """Mixin for a page's state that follows live changes (it must also be an AuthState)."""

    _live_principal: Principal | None = None
    _live_checked: float = 0.0

    def _follow_live(self) -> None:
        """Call from the page's load (which runs in the process holding its socket, on every (re)connect)."""
        _pages[self.router.session.client_token] = type(self)

    async def _on_live(self, version: int, changed: set[int] | None) -> None:
        """Re-read the view for this batch (`changed`: the ids it names, None: anything may have changed)."""
        raise NotImplementedError

    async def _live_principal_now(self) -> Principal | None:
        if self._live_principal is None or time.monotonic() - self._live_checked > SESSION_CHECK_SECONDS:
            self._live_principal = await self._principal()
            self._live_checked = time.monotonic()
        return self._live_principal


def _decode(message: dict) -> tuple[int, set[int] | None]:
    """A batch message: its version, and the ids it names (None: anything may have changed)."""
    from opsknight.live.relay import ids_in

    data = message.get("data")
    version, _, ids = (data.decode() if isinstance(data, bytes) else str(data)).partition(":")
    return int(version), set(ids_in(ids)) or None


async def push(app, version: int, changed: set[int] | None) -> int:
    """Apply one batch to every following page of this process; returns how many were updated."""
    from reflex.istate.manager.token import BaseStateToken

    from opsknight.permissions import Permission, allowed
    from opsknight.state.guard import acting_as

    local = set(app.event_namespace.sid_to_token.values()) if app.event_namespace else set()
    for token in [t for t in _pages if t not in local]:  # closed, or reconnected to another process
        del _pages[token]
    limit = asyncio.Semaphore(PUSHES_AT_ONCE)

    async def one(token: str, cls: type) -> bool:
        async with limit:
            async with app.modify_state(BaseStateToken(ident=token, cls=cls)) as root:
                page = await root.get_state(cls)
                principal = await page._live_principal_now()
                if not allowed(principal, Permission.READ):  # signed out or disabled: no more data
                    _pages.pop(token, None)
                    return False
                with acting_as(principal):
                    await page._on_live(version, changed)
                return True

    following = list(_pages.items())
    outcomes = await asyncio.gather(*(one(t, c) for t, c in following), return_exceptions=True)
    for (token, _), outcome in zip(following, outcomes):
        if isinstance(outcome, Exception):  # stop pushing to it; it follows again when it reloads or reconnects
            log.warning("live push failed for a page: %s: %s", type(outcome).__name__, outcome)
            _pages.pop(token, None)
    return sum(1 for outcome in outcomes if outcome is True)


async def follow_batches(app) -> None:
    """Lifespan task of every web process: apply each batch the relay publishes to this process's pages."""
    from opsknight.live.relay import async_redis

    while True:
        client = async_redis()
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(BATCH_CHANNEL)
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                version, changed = _decode(message)
                while (more := await pubsub.get_message(timeout=0)) is not None:  # batches that queued up meanwhile
                    later, also = _decode(more)
                    version = max(version, later)
                    changed = None if changed is None or also is None else changed | also
                if _pages:
                    await push(app, version, changed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away: pages resync when it is back (and on reconnect, and on wake)
            log.warning("live pages: %s: %s; resubscribing", type(exc).__name__, exc)
            await asyncio.sleep(1)
        finally:
            await client.aclose()
