"""A browser tab without the browser: Reflex's own websocket protocol (Socket.IO on `/_event`), for tests and
bench/live.py. It connects with a session cookie like a signed-in page, hydrates a route (which runs the page's
on_load), sends events, and keeps every state var the server sends — the same deltas a browser receives.

Protocol (Reflex 0.10): the hydrate event rides in the CONNECT packet's auth payload; the tab's token is the
`?token=` query parameter; updates arrive as `event` messages `{"delta": {<state path>: {<var>_rx_state_: value}}}`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import socketio

ROOT = "reflex___state____state"
FIELD = "_rx_state_"


def handler_name(handler) -> str:
    """The wire name of an event handler, e.g. DashboardState.acknowledge."""
    from reflex_base.utils.format import format_event_handler

    return format_event_handler(handler)


def state_key(state_cls) -> str:
    """The last segment of a state's path in a delta."""
    return state_cls.get_full_name().rsplit(".", 1)[-1]


class Tab:
    def __init__(self, base_url: str, route: str, cookie: str = ""):
        self.base_url, self.route, self.cookie = base_url.rstrip("/"), route, cookie
        self.token = str(uuid.uuid4())
        self.vars: dict[str, dict[str, Any]] = {}  # state key -> var -> latest value
        self.updates = 0
        self._changed = asyncio.Condition()
        self._sio = socketio.AsyncClient(reconnection=False)
        self._sio.on("event", self._on_event, namespace="/_event")
        self._sio.on("new_token", self._on_new_token, namespace="/_event")

    async def _on_new_token(self, token: str) -> None:
        self.token = token

    async def _on_event(self, update: dict) -> None:
        for path, changes in (update.get("delta") or {}).items():
            bucket = self.vars.setdefault(path.rsplit(".", 1)[-1], {})
            for key, value in changes.items():
                bucket[key.removesuffix(FIELD)] = value
        self.updates += 1
        async with self._changed:
            self._changed.notify_all()

    def _router_data(self) -> dict:
        return {"pathname": self.route, "asPath": self.route}

    async def open(self, timeout: float = 30) -> None:
        hydrate = {"name": f"{ROOT}.hydrate_and_load", "payload": {}, "router_data": self._router_data()}
        await asyncio.wait_for(self._sio.connect(
            f"{self.base_url}?token={self.token}", socketio_path="/_event", namespaces=["/_event"],
            transports=["websocket"], headers={"Cookie": self.cookie, "Origin": self.base_url},
            auth={"event": hydrate}), timeout)

    async def send(self, handler, **payload) -> None:
        await self._sio.emit("event", {"name": handler_name(handler), "payload": payload,
                                       "router_data": self._router_data()}, namespace="/_event")

    def var(self, state_cls, name: str, default: Any = None) -> Any:
        return self.vars.get(state_key(state_cls), {}).get(name, default)

    async def wait_for(self, condition: Callable[[Tab], bool], timeout: float = 10) -> float:
        """Wait until `condition(self)` holds; returns time.monotonic() when it first did."""
        async def until() -> float:
            async with self._changed:
                while not condition(self):
                    await self._changed.wait()
                return time.monotonic()

        if condition(self):
            return time.monotonic()
        return await asyncio.wait_for(until(), timeout)

    async def close(self) -> None:
        try:
            await self._sio.disconnect()
        except Exception:  # already gone
            pass
