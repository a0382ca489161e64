"""The incidents REST API: filters and cursor pages, the timeline, and responder actions with role and scope
checks done on the server."""

from __future__ import annotations

import pytest

from opsknight import accounts
from opsknight.engine import clock
from opsknight.models import Incident, Role
from tests.factories import make_integration, make_service
from tests.integration.conftest import rows


def _key(session, role: str, scopes=("read", "write")) -> dict:
    user = accounts.create_user(session, email=f"{role}-{len(scopes)}@example.com", name=role.title(), role=role,
                                password="pw-long-enough")
    key, _ = accounts.create_api_key(session, user, name="test", scopes=scopes)
    session.commit()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def incidents(client, session):
    token, _ = make_integration(session, make_service(session), "generic")
    client.post("/api/webhooks/generic", headers={"Authorization": f"Bearer {token}"},
                json=[{"summary": f"incident {i}", "dedup_key": f"k{i}"} for i in range(5)])
    return sorted(i.id for i in rows(Incident))


def test_list_pages_with_a_cursor_and_filters(client, session, incidents):
    viewer = _key(session, Role.VIEWER)
    first = client.get("/api/v1/incidents?limit=2", headers=viewer).json()
    assert [i["id"] for i in first["data"]] == incidents[::-1][:2]
    second = client.get(f"/api/v1/incidents?limit=2&cursor={first['next_cursor']}", headers=viewer).json()
    third = client.get(f"/api/v1/incidents?limit=2&cursor={second['next_cursor']}", headers=viewer).json()
    assert [i["id"] for i in first["data"] + second["data"] + third["data"]] == incidents[::-1]
    assert third["next_cursor"] is None
    assert client.get("/api/v1/incidents?status=resolved", headers=viewer).json()["data"] == []


def test_get_shows_the_timeline(client, session, incidents):
    body = client.get(f"/api/v1/incidents/{incidents[0]}", headers=_key(session, Role.VIEWER)).json()
    assert body["status"] == "triggered" and body["timeline"][0]["kind"] == "triggered"


def test_responder_acknowledges_resolves_and_notes(client, session, incidents):
    responder = _key(session, Role.RESPONDER)
    acked = client.post(f"/api/v1/incidents/{incidents[0]}/acknowledge", headers=responder)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    assert rows(Incident, Incident.id == incidents[0])[0].acknowledged_via == "api"
    note = client.post(f"/api/v1/incidents/{incidents[0]}/notes", headers=responder, json={"body": "rolling back"})
    assert note.status_code == 201
    assert client.post(f"/api/v1/incidents/{incidents[0]}/resolve", headers=responder).json()["status"] == "resolved"
    conflict = client.post(f"/api/v1/incidents/{incidents[0]}/snooze", headers=responder, json={"minutes": 10})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"


def test_snooze_sets_the_timer(client, session, incidents):
    clock.set_now(clock.now())
    body = client.post(f"/api/v1/incidents/{incidents[1]}/snooze", headers=_key(session, Role.RESPONDER),
                       json={"minutes": 30}).json()
    assert body["status"] == "acknowledged" and body["snoozed_until"] == body["next_escalation_at"]


@pytest.mark.parametrize(("role", "scopes", "status"), [
    (Role.VIEWER, ("read", "write"), 403),     # viewers read only
    (Role.ADMIN, ("read",), 403),              # a read-only key, whatever its owner's role
    (Role.RESPONDER, ("read", "write"), 200),
    (Role.ADMIN, ("read", "write"), 200),
])
def test_who_may_act(client, session, incidents, role, scopes, status):
    response = client.post(f"/api/v1/incidents/{incidents[2]}/acknowledge", headers=_key(session, role, scopes))
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden"
        assert rows(Incident, Incident.id == incidents[2])[0].status == "triggered"


def test_errors_have_one_shape(client, session, incidents):
    responder = _key(session, Role.RESPONDER)
    assert client.get("/api/v1/incidents").json()["error"]["code"] == "unauthorized"
    missing = client.post("/api/v1/incidents/999999/acknowledge", headers=responder)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = client.post(f"/api/v1/incidents/{incidents[0]}/snooze", headers=responder, json={"minutes": 0})
    assert bad.status_code == 400 and bad.json()["error"]["fields"]
    assert client.get("/api/v1/incidents?limit=0", headers=responder).status_code == 400


def test_a_responder_opens_an_incident_by_hand_and_it_is_queued_for_paging(client, session):
    from opsknight.models import OutboxJob
    from tests.factories import api_headers

    service = make_service(session)
    responder = api_headers(session, Role.RESPONDER)
    body = {"service_id": service.id, "title": "Checkout is down", "dedup_key": "checkout"}
    first = client.post("/api/v1/incidents", headers=responder, json=body)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "triggered" and first.json()["urgency"] == "high"
    again = client.post("/api/v1/incidents", headers=responder, json=body)
    assert again.json()["id"] == first.json()["id"] and again.json()["alert_count"] == 2
    assert [j.incident_id for j in rows(OutboxJob)] == [first.json()["id"]]  # durable before the 201
    low = client.post("/api/v1/incidents", headers=responder,
                      json={"service_id": service.id, "title": "disk 80%", "severity": "warning"}).json()
    assert low["urgency"] == "low" and low["id"] != first.json()["id"]


def test_opening_an_incident_checks_its_input_and_the_role(client, session):
    from tests.factories import api_headers

    service = make_service(session)
    viewer = api_headers(session, Role.VIEWER)
    assert client.post("/api/v1/incidents", headers=viewer,
                       json={"service_id": service.id, "title": "x"}).status_code == 403
    responder = api_headers(session, Role.RESPONDER)
    missing = client.post("/api/v1/incidents", headers=responder, json={"service_id": 999999, "title": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["fields"] == ["service_id"]
    empty = client.post("/api/v1/incidents", headers=responder, json={"service_id": service.id, "title": ""})
    assert empty.status_code == 400 and empty.json()["error"]["fields"][0].startswith("title")
    assert rows(Incident) == []
