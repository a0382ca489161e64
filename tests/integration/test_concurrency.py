"""Real concurrency over real HTTP: 200 simultaneous requests against the live API server (uvicorn, thread pool,
PostgreSQL connection pool), through the generic webhook and the Events v2 endpoint.

Identical triggers must collapse into one incident that counts every alert and pages once (one outbox row);
distinct triggers must each get an incident with a number of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections import Counter

import httpx
import pytest

from opsknight.models import Alert, Incident, OutboxJob, TimelineEvent
from tests.factories import make_integration, make_service
from tests.integration.conftest import count, rows

N = 200


async def _fire(url: str, bodies: list[dict], headers: dict[str, str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0)) as client:
        # Open every request before the first one is answered (a barrier), so they truly overlap.
        gate = asyncio.Event()

        async def one(body: dict) -> httpx.Response:
            await gate.wait()
            return await client.post(url, content=json.dumps(body), headers=headers)

        tasks = [asyncio.ensure_future(one(body)) for body in bodies]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*tasks)


def fire(url: str, bodies: list[dict], headers: dict[str, str] | None = None) -> list[httpx.Response]:
    # In a thread of its own: Playwright's sync API (e2e tests in the same run) keeps an event loop running here.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _fire(url, bodies, {"Content-Type": "application/json", **(headers or {})})).result()


def _statuses(responses: list[httpx.Response]) -> Counter:
    return Counter(r.status_code for r in responses)


def _assert_all_202(responses: list[httpx.Response]) -> None:
    statuses = _statuses(responses)
    bad = next((r for r in responses if r.status_code != 202), None)
    assert statuses == Counter({202: N}), f"{statuses}; first failure: {bad.text if bad is not None else ''}"


@pytest.fixture
def service(session):
    return make_service(session)


def _endpoint(kind: str, live_api: str, session, service) -> tuple[str, dict[str, str], callable]:
    """(URL, headers, body(key) factory) for the endpoint under test."""
    if kind == "generic":
        token, _ = make_integration(session, service, "generic")
        return (f"{live_api}/api/webhooks/generic", {"Authorization": f"Bearer {token}"},
                lambda key: {"summary": f"disk full {key}", "severity": "critical", "dedup_key": key})
    token, _ = make_integration(session, service, "events_v2")
    return (f"{live_api}/api/v2/enqueue", {},
            lambda key: {"routing_key": token, "event_action": "trigger", "dedup_key": key,
                         "payload": {"summary": f"disk full {key}", "source": "db-01", "severity": "critical"}})


@pytest.mark.parametrize("kind", ["generic", "events_v2"])
def test_200_simultaneous_identical_triggers_make_one_incident(live_api, session, service, kind):
    url, headers, body = _endpoint(kind, live_api, session, service)
    responses = fire(url, [body("same-key")] * N, headers)
    _assert_all_202(responses)
    if kind == "generic":
        outcomes = Counter(r.json()["incidents"][0]["outcome"] for r in responses)
        assert outcomes == Counter({"created": 1, "attached": N - 1})
        assert len({r.json()["incidents"][0]["incident_number"] for r in responses}) == 1
    else:
        assert {r.json()["dedup_key"] for r in responses} == {"same-key"}

    (incident,) = rows(Incident)
    assert incident.dedup_key == "same-key" and incident.status == "triggered"
    assert incident.alert_count == N
    assert count(Alert) == N and count(Alert, Alert.incident_id == incident.id) == N
    assert count(OutboxJob) == 1  # paged once
    kinds = Counter(e.kind for e in rows(TimelineEvent, TimelineEvent.incident_id == incident.id))
    assert kinds == Counter({"triggered": 1, "alert": N - 1})


@pytest.mark.parametrize("kind", ["generic", "events_v2"])
def test_200_simultaneous_distinct_triggers_make_200_incidents_with_distinct_numbers(live_api, session, service,
                                                                                     kind):
    url, headers, body = _endpoint(kind, live_api, session, service)
    keys = [f"key-{i:03d}" for i in range(N)]
    responses = fire(url, [body(key) for key in keys], headers)
    _assert_all_202(responses)

    incidents = rows(Incident)
    assert len(incidents) == N
    assert sorted(i.dedup_key for i in incidents) == keys
    assert len({i.number for i in incidents}) == N
    assert all(i.alert_count == 1 and i.status == "triggered" for i in incidents)
    assert count(Alert) == N and count(OutboxJob) == N
    if kind == "generic":
        answered = {r.json()["incidents"][0]["dedup_key"]: r.json()["incidents"][0]["incident_number"]
                    for r in responses}
        assert answered == {i.dedup_key: i.number for i in incidents}


def test_an_event_whose_transaction_reruns_counts_once_against_the_rate_limit(live_api, session, service, monkeypatch):
    """200 simultaneous identical Events v2 triggers, with a limit of exactly 200 a minute: the requests that lose
    the dedup race rerun their transaction, and must not use up a second unit of the budget."""
    from datetime import datetime, timezone

    from sqlalchemy import event as sa_event

    from opsknight import db
    from opsknight.config import reset_settings
    from opsknight.engine import clock

    from opsknight.api.webhooks import grouping

    monkeypatch.setenv("OPSKNIGHT_ENQUEUE_RATE_PER_MINUTE", str(N))
    # Five transactions at once, one request each: identical events race to open the incident, and the losers
    # rerun (grouped, they would mostly share transactions and seldom race).
    monkeypatch.setenv("OPSKNIGHT_WEBHOOK_TRANSACTIONS", "5")
    monkeypatch.setattr(grouping, "MAX_REQUESTS", 1)
    reset_settings()
    clock.set_now(datetime(2026, 11, 27, 3, 0, 15, tzinfo=timezone.utc))  # one fixed one-minute window
    races = []
    listener = lambda ctx: races.append(1) if "uq_incidents_open_dedup" in str(ctx.original_exception) else None  # noqa: E731

    def dawdle(_conn, _cursor, statement, *_):
        # Every transaction pauses just before it inserts the incident, so the first ones all find no open
        # incident and insert together: the race happens every run, not only when the machine's timing allows
        # (seen once in CI: no request lost it, and the test could prove nothing).
        if statement.lstrip().upper().startswith("INSERT INTO INCIDENTS"):
            time.sleep(0.05)

    sa_event.listen(db.engine(), "handle_error", listener)
    sa_event.listen(db.engine(), "before_cursor_execute", dawdle)
    try:
        url, headers, body = _endpoint("events_v2", live_api, session, service)
        responses = fire(url, [body("same-key")] * N, headers)
    finally:
        sa_event.remove(db.engine(), "handle_error", listener)
        sa_event.remove(db.engine(), "before_cursor_execute", dawdle)
    assert races, "no request lost the dedup race: nothing reran, the test proved nothing"
    _assert_all_202(responses)
    assert count(Alert) == N
