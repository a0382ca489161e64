"""The outbox job on a real RQ worker and Redis: exactly once, re-runs harmless, lost jobs rebuilt."""

from __future__ import annotations

from datetime import timedelta

from rq import SimpleWorker

from opsknight import broker
from opsknight.engine import clock, jobs, reconciler
from opsknight.models import Incident, OutboxJob, TimelineEvent
from tests.factories import make_integration, make_policy, make_service
from tests.integration.conftest import rows


def _drain() -> None:
    SimpleWorker(broker.queues(), connection=broker.redis_conn()).work(burst=True)


def test_worker_freezes_the_policy_onto_the_incident(client, session):
    policy = make_policy(session, steps=[[("user", 1)], [("schedule", 2), ("team", 3)]], repeat_count=2)
    token, _ = make_integration(session, make_service(session, policy=policy), "generic")
    client.post("/api/webhooks/generic", json={"summary": "disk full"}, headers={"Authorization": f"Bearer {token}"})
    _drain()
    (incident,) = rows(Incident)
    snapshot = incident.escalation_policy_snapshot
    assert snapshot["policy_id"] == policy.id and snapshot["repeat_count"] == 2
    assert [s["targets"] for s in snapshot["steps"]] == [[{"type": "user", "id": 1}],
                                                          [{"type": "schedule", "id": 2}, {"type": "team", "id": 3}]]
    (outbox,) = rows(OutboxJob)
    assert outbox.processed_at is not None and outbox.attempts == 1
    kinds = [e.kind for e in rows(TimelineEvent, order_by=TimelineEvent.id)]
    assert kinds[:2] == ["triggered", "policy_applied"]
    # the deleted schedule is named, both empty steps are skipped, then the loud "nobody could be paged"
    assert kinds[2:] == ["nobody_on_call"] * 4


def test_running_the_job_twice_does_nothing_more(client, session):
    token, _ = make_integration(session, make_service(session, policy=make_policy(session, steps=[[("user", 1)]])),
                                "generic")
    client.post("/api/webhooks/generic", json={"summary": "x"}, headers={"Authorization": f"Bearer {token}"})
    _drain()
    (outbox,) = rows(OutboxJob)
    events = len(rows(TimelineEvent))
    assert jobs.process_outbox(outbox.id) == "already-done"
    assert len(rows(TimelineEvent)) == events


def test_service_without_policy_is_flagged_loudly(client, session):
    token, _ = make_integration(session, make_service(session), "generic")
    client.post("/api/webhooks/generic", json={"summary": "nobody home"}, headers={"Authorization": f"Bearer {token}"})
    _drain()
    events = rows(TimelineEvent, TimelineEvent.kind == "nobody_on_call")
    assert len(events) == 1 and "no escalation policy" in events[0].message
    assert 'opsknight_paging_nobody_total{reason="no_policy"}' in client.get("/metrics").text


def test_flushed_redis_loses_nothing(client, session):
    token, _ = make_integration(session, make_service(session, policy=make_policy(session, steps=[[("user", 1)]])),
                                "generic")
    client.post("/api/webhooks/generic", json={"summary": "x"}, headers={"Authorization": f"Bearer {token}"})
    broker.redis_conn().flushdb()  # the queued job is gone
    clock.set_now(clock.now() + reconciler.GRACE + timedelta(seconds=1))
    assert reconciler.reconcile() == 1
    _drain()
    (outbox,) = rows(OutboxJob)
    assert outbox.processed_at is not None
    assert rows(Incident)[0].escalation_policy_snapshot is not None
