"""Heartbeat monitors: a missed ping opens one incident; the next ping resolves it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsknight.engine import clock, reconciler
from opsknight.models import Incident, Integration
from tests.factories import make_integration, make_service
from tests.integration.conftest import rows


@pytest.fixture
def heartbeat(session):
    clock.set_now(clock.now())
    token, row = make_integration(session, make_service(session), "heartbeat", heartbeat_interval_seconds=300)
    return token, row


def ping(client, integration_id, token, method="post"):
    return getattr(client, method)(f"/api/webhooks/heartbeat/{integration_id}?token={token}")


def test_ping_records_time_and_nothing_opens_while_on_time(client, heartbeat):
    token, row = heartbeat
    assert ping(client, row.id, token).status_code == 202
    assert rows(Integration)[0].last_heartbeat_at == clock.now()
    clock.advance(timedelta(seconds=299))
    reconciler.reconcile()
    assert rows(Incident) == []


def test_missed_ping_opens_one_incident_and_next_ping_resolves_it(client, heartbeat):
    token, row = heartbeat
    ping(client, row.id, token, "get")
    clock.advance(timedelta(seconds=301))
    reconciler.reconcile()
    reconciler.reconcile()  # a second sweep does not pile on
    (incident,) = rows(Incident)
    assert incident.status == "triggered" and incident.alert_count == 1
    assert "No heartbeat" in incident.title and incident.urgency == "high"
    response = ping(client, row.id, token)
    assert response.status_code == 202 and response.json()["resolved_incident"] is True
    assert rows(Incident)[0].status == "resolved"


def test_never_pinged_heartbeat_is_overdue_one_interval_after_creation(client, heartbeat):
    clock.advance(timedelta(seconds=301))
    reconciler.reconcile()
    assert len(rows(Incident)) == 1


def test_token_of_another_heartbeat_is_refused(client, heartbeat, session):
    token, row = heartbeat
    other_token, _ = make_integration(session, make_service(session), "heartbeat", heartbeat_interval_seconds=60)
    assert ping(client, row.id, other_token).status_code == 403
    assert ping(client, row.id, "okt_wrong").status_code == 401
    assert rows(Integration, Integration.id == row.id)[0].last_heartbeat_at is None


@pytest.mark.parametrize("bad_id", ["abc", "7x", "-1", "1e3", "１２", "9" * 19])
def test_a_url_whose_id_is_not_a_heartbeat_id_gets_404_in_the_webhook_error_shape(client, heartbeat, bad_id):
    token, row = heartbeat
    for method in ("post", "get"):
        response = ping(client, bad_id, token, method)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "unknown_heartbeat"
    assert rows(Integration, Integration.id == row.id)[0].last_heartbeat_at is None
