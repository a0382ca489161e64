"""The live path end to end, at the protocol level: the real app's backend (granian as `opsknight serve` runs it),
and tabs that speak Reflex's websocket protocol (`tests/reflex_client.py`) and receive the deltas a browser
would. On the embedded default (SQLite + in-process Redis, one process) and on PostgreSQL + Redis with three web
worker processes, where each tab's socket may live in another process than the one relaying the feed.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from opsknight import accounts
from opsknight.api.session import SESSION_COOKIE
from opsknight.db import session_scope
from opsknight.models import Incident, Role
from tests.factories import make_integration, make_service
from tests.integration.conftest import rows
from tests.live_server import BackendDidNotStart, start_backend, stop_process_group
from tests.reflex_client import Tab


@pytest.fixture(params=["embedded", "postgresql+redis, 3 web processes"])
def live_app(request, tmp_path, redis_url):
    """(base URL, session cookies of two responders and a viewer, a generic integration token)."""
    if request.param == "embedded":
        url = request.getfixturevalue("sqlite")
        env, workers = {"OPSKNIGHT_DATABASE_URL": url, "OPSKNIGHT_DATA_DIR": str(tmp_path)}, 1
    else:
        url = request.getfixturevalue("pg")
        env = {"OPSKNIGHT_DATABASE_URL": url, "OPSKNIGHT_REDIS_URL": redis_url, "REFLEX_REDIS_URL": redis_url,
               "OPSKNIGHT_EMBEDDED_WORKER": "false", "OPSKNIGHT_DATA_DIR": str(tmp_path)}
        workers = 3
    with session_scope() as db:
        cookies = {}
        for name, role in (("ann", Role.RESPONDER), ("bob", Role.RESPONDER), ("vic", Role.VIEWER)):
            user = accounts.create_user(db, email=f"{name}@example.com", name=name.title(), role=role,
                                        password="pw-long-enough")
            cookies[name] = f"{SESSION_COOKIE}={accounts.create_session(db, user, days=1)}"
        token, _ = make_integration(db, make_service(db), "generic")
    try:
        proc, base = start_backend(env, tmp_path / "server.log", workers)
    except BackendDidNotStart as exc:
        pytest.fail(f"the backend did not start:\n{exc}")
    try:
        yield base, cookies, token
    finally:
        stop_process_group(proc)


def _titles(tab: Tab) -> dict[str, str]:
    from opsknight.state.incidents import DashboardState

    return {row["title"]: row["status"] for row in tab.var(DashboardState, "rows", [])}


def test_a_webhook_and_an_acknowledgement_reach_every_open_dashboard(live_app):
    from opsknight.state.incidents import DashboardState

    base, cookies, token = live_app

    async def scenario():
        tabs = [Tab(base, "/incidents", cookies[name]) for name in ("ann", "bob", "vic")]
        await asyncio.gather(*(tab.open() for tab in tabs))
        await asyncio.gather(*(tab.wait_for(lambda t: t.var(DashboardState, "loaded")) for tab in tabs))
        sent = time.monotonic()
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{base}/api/webhooks/generic", headers={"Authorization": f"Bearer {token}"},
                                       json={"summary": "Checkout is down", "severity": "critical"})
        assert answer.status_code == 202
        seen = await asyncio.gather(*(tab.wait_for(lambda t: "Checkout is down" in _titles(t), 5) for tab in tabs))
        assert max(seen) - sent < 2.0, [round(s - sent, 3) for s in seen]
        incident_id = next(r["id"] for r in tabs[0].var(DashboardState, "rows") if r["title"] == "Checkout is down")
        assert tabs[0].var(DashboardState, "rows")[0]["highlight"] is True  # the new row flashes

        await tabs[0].send(DashboardState.acknowledge, incident_id=incident_id)  # Ann, from her dashboard
        await asyncio.gather(*(tab.wait_for(lambda t: _titles(t).get("Checkout is down") == "acknowledged", 5)
                               for tab in tabs[1:]))
        await tabs[2].send(DashboardState.resolve, incident_id=incident_id)  # the viewer: refused by the handler
        await asyncio.sleep(1.0)
        assert _titles(tabs[1])["Checkout is down"] == "acknowledged"
        await asyncio.gather(*(tab.close() for tab in tabs))
        return incident_id

    incident_id = asyncio.run(scenario())
    incident = rows(Incident, Incident.id == incident_id)[0]
    assert incident.status == "acknowledged" and incident.acknowledged_via == "web"
