"""PagerDuty Events API v2 compatibility: bodies, dedup semantics, errors and the per-key rate limit."""

from __future__ import annotations

import pytest

from opsknight.models import Alert, Incident, OutboxJob
from tests.factories import make_integration, make_service
from tests.integration.conftest import count, fixture, rows


@pytest.fixture
def token(session):
    return make_integration(session, make_service(session), "events_v2")[0]


def event(token, action="trigger", dedup_key="db-01/replication-lag", **payload):
    body = fixture("pd-events-v2-trigger.json")
    body.update(routing_key=token, event_action=action)
    if dedup_key is None:
        body.pop("dedup_key")
    else:
        body["dedup_key"] = dedup_key
    body["payload"].update(payload)
    return body


def send(client, body):
    return client.post("/api/v2/enqueue", json=body)


def test_trigger_answers_like_pagerduty(client, token):
    response = send(client, event(token))
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "db-01/replication-lag"}
    (incident,) = rows(Incident)
    assert incident.title == "Replication lag 312s on db-01" and incident.urgency == "high"  # severity error


def test_trigger_without_dedup_key_gets_one_generated(client, token):
    first = send(client, event(token, dedup_key=None)).json()["dedup_key"]
    second = send(client, event(token, dedup_key=None)).json()["dedup_key"]
    assert first and second and first != second
    assert {i.dedup_key for i in rows(Incident)} == {first, second}


def test_acknowledge_then_trigger_adds_alert_but_pages_no_one_then_resolve(client, token):
    send(client, event(token))
    assert send(client, event(token, "acknowledge")).status_code == 202
    (incident,) = rows(Incident)
    assert incident.status == "acknowledged" and incident.acknowledged_via == "events_v2"
    send(client, event(token))
    (incident,) = rows(Incident)
    assert incident.status == "acknowledged" and incident.alert_count == 3
    assert count(OutboxJob) == 1  # only the first trigger pages
    send(client, event(token, "resolve"))
    assert rows(Incident)[0].status == "resolved"


def test_acknowledge_and_resolve_after_resolve_are_dropped_with_202(client, token):
    send(client, event(token))
    send(client, event(token, "resolve"))
    alerts_before = count(Alert)
    for action in ("acknowledge", "resolve"):
        response = send(client, event(token, action))
        assert response.status_code == 202 and response.json()["status"] == "success"
    assert count(Alert) == alerts_before and rows(Incident)[0].status == "resolved"


def test_unknown_key_acknowledge_is_a_noop(client, token):
    assert send(client, event(token, "acknowledge", dedup_key="never-seen")).status_code == 202
    assert count(Incident) == 0


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda b: b.update(event_action="explode"), "event_action"),
    (lambda b: b["payload"].pop("summary"), "summary"),
    (lambda b: b["payload"].update(severity="apocalyptic"), "severity"),
    (lambda b: b["payload"].update(summary="s" * 1025), "summary"),
    (lambda b: b.update(dedup_key="k" * 256), "dedup_key"),
])
def test_invalid_events_get_pagerdutys_400_body(client, token, mutate, needle):
    body = event(token)
    mutate(body)
    response = send(client, body)
    assert response.status_code == 400
    data = response.json()
    assert data["status"] == "invalid event" and data["message"] == "Event object is invalid"
    assert any(needle in error for error in data["errors"])
    assert count(Incident) == 0


def test_bad_json_and_unknown_routing_key(client, token):
    response = client.post("/api/v2/enqueue", content=b"{nope")
    assert response.status_code == 400 and response.json()["status"] == "invalid event"
    response = send(client, event("R" * 32))
    assert response.status_code == 401 and response.json()["errors"]
    assert count(Incident) == 0


def test_rate_limit_is_429_with_retry_after(client, token, monkeypatch):
    from opsknight.config import reset_settings

    from datetime import datetime, timezone

    from opsknight.engine import clock

    monkeypatch.setenv("OPSKNIGHT_ENQUEUE_RATE_PER_MINUTE", "3")
    reset_settings()
    clock.set_now(datetime(2026, 11, 27, 3, 0, 15, tzinfo=timezone.utc))  # one fixed one-minute window
    statuses = [send(client, event(token, dedup_key=f"k{i}")).status_code for i in range(5)]
    assert statuses[:3] == [202, 202, 202]
    limited = send(client, event(token, dedup_key="k-last"))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "45"
    assert count(Incident) == 3  # a throttled event is not stored


def test_with_redis_unreachable_events_go_through_and_redis_is_not_asked_again_at_once(client, token, monkeypatch):
    """The webhook's Redis calls (rate count, enqueue) run inside the transaction that holds the database slot: a
    Redis that does not answer must cost its timeout once, not once per event. The pause covers both calls; the
    outbox rows wait for the reconciler."""
    from datetime import datetime, timezone

    import redis

    from opsknight import broker
    from opsknight.api.webhooks import common
    from opsknight.config import reset_settings
    from opsknight.engine import clock

    clock.set_now(datetime(2026, 11, 27, 3, 0, 15, tzinfo=timezone.utc))
    monkeypatch.setenv("OPSKNIGHT_ENQUEUE_RATE_PER_MINUTE", "1")
    reset_settings()
    assert send(client, event(token, dedup_key="k0")).status_code == 202  # uses the window's one event
    working_redis = broker.redis_conn()
    queued = len(broker.queue("urgent"))
    monkeypatch.setattr(common, "REDIS_PAUSE_SECONDS", 3600.0)
    dead_redis = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    monkeypatch.setattr(broker, "redis_conn", lambda: dead_redis)
    assert send(client, event(token, dedup_key="k1")).status_code == 202  # Redis down: let through
    monkeypatch.setattr(broker, "redis_conn", lambda: working_redis)  # back, and it would say 429 now
    assert send(client, event(token, dedup_key="k2")).status_code == 202  # not asked during the pause
    assert len(broker.queue("urgent")) == queued  # nor given the jobs: the outbox holds them
    assert count(OutboxJob) == 3
    monkeypatch.setattr(common, "REDIS_PAUSE_SECONDS", 0.0)
    assert send(client, event(token, dedup_key="k3")).status_code == 429  # asked again after it
    assert count(Incident) == 3


def test_a_refused_event_stays_refused_when_its_transaction_reruns_without_counting_again():
    from opsknight.api.webhooks import common, events_v2

    calls = []

    def over_limit(_db, _integration):
        calls.append(1)
        raise common.WebhookError(429, "throttle event", "over")

    once = events_v2._counted_once(over_limit)
    for _ in range(3):
        with pytest.raises(common.WebhookError):
            once(None, None)
    assert calls == [1]
