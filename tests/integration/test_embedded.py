"""The embedded default (`make run` with no configuration): SQLite, in-process Redis, worker thread."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlmodel import Session

from opsknight import broker, db
from opsknight.api import create_api
from opsknight.models import Incident, OutboxJob
from tests.factories import make_integration, make_policy, make_service
from tests.integration.conftest import rows


def test_webhook_to_processed_incident_in_one_process(sqlite):
    with Session(db.engine(), expire_on_commit=False) as s:
        token, _ = make_integration(s, make_service(s, policy=make_policy(s, steps=[[("user", 1)]])), "generic")
    runner = broker.EmbeddedRunner(poll_seconds=0.1)
    runner.start()
    try:
        client = TestClient(create_api())
        response = client.post("/api/webhooks/generic", json=[{"summary": f"disk {i}"} for i in range(5)],
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 202
        deadline = time.monotonic() + 15
        while any(o.processed_at is None for o in rows(OutboxJob)):
            assert time.monotonic() < deadline, "the embedded worker did not process the outbox"
            time.sleep(0.1)
    finally:
        runner.stop()
    incidents = rows(Incident)
    assert len(incidents) == 5 and all(i.escalation_policy_snapshot for i in incidents)
    assert sorted(i.number for i in incidents) == [1, 2, 3, 4, 5]
