"""The services and integrations REST API on PostgreSQL: every route, validation and conflicts in the one error
shape, who may change what, the audit trail, and tokens that are shown once and work against the real webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import yaml

from opsknight.engine import clock
from opsknight.models import AuditLog, Incident, Integration, Role, Service, Team, TimelineEvent, TimelineKind
from tests.factories import api_headers, make_policy, make_service
from tests.integration.conftest import count, fixture, rows


@pytest.fixture
def admin(session) -> dict:
    return api_headers(session, Role.ADMIN)


@pytest.fixture
def viewer(session) -> dict:
    return api_headers(session, Role.VIEWER)


def _create(client, admin, **body) -> dict:
    response = client.post("/api/v1/services", headers=admin, json={"name": "Checkout", **body})
    assert response.status_code == 201, response.text
    return response.json()


def _integration(client, admin, service_id: int, source_type: str = "generic", **body) -> dict:
    response = client.post(f"/api/v1/services/{service_id}/integrations", headers=admin,
                           json={"source_type": source_type, **body})
    assert response.status_code == 201, response.text
    return response.json()


def _alert(client, token: str, **alert):
    return client.post("/api/webhooks/generic", headers={"Authorization": f"Bearer {token}"},
                       json={"summary": "disk full", "dedup_key": "disk", **alert})


def _audit(action: str) -> list[AuditLog]:
    return rows(AuditLog, AuditLog.action == action, order_by=AuditLog.id)


# --- services ------------------------------------------------------------------------------------------------------


def test_create_read_update_a_service_with_audit(client, session, admin, viewer):
    policy = make_policy(session)
    team = Team(name="Payments")
    session.add(team)
    session.commit()
    created = _create(client, admin, description="Takes the money", team_id=team.id,
                      escalation_policy_id=policy.id, default_urgency="low", urgency_from_severity=False)
    assert created["escalation_policy"] == {"id": policy.id, "name": policy.name}
    assert created["team"] == {"id": team.id, "name": "Payments"}
    assert (created["default_urgency"], created["urgency_from_severity"]) == ("low", False)
    assert created["open_incidents"] == 0 and created["maintenance"] is None

    assert client.get(f"/api/v1/services/{created['id']}", headers=viewer).json() == created
    patched = client.patch(f"/api/v1/services/{created['id']}", headers=admin,
                           json={"name": "  Checkout API ", "team_id": None, "default_urgency": "high"})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["name"], body["team"], body["default_urgency"]) == ("Checkout API", None, "high")
    assert body["description"] == "Takes the money" and body["escalation_policy"]["id"] == policy.id

    [create_entry] = _audit("service.create")
    assert create_entry.entity_id == str(created["id"]) and create_entry.changes["name"] == [None, "Checkout"]
    assert create_entry.actor_user_id is not None and create_entry.actor_api_key_id is not None
    [update_entry] = _audit("service.update")
    assert update_entry.changes == {"name": ["Checkout", "Checkout API"], "team_id": [team.id, None],
                                    "default_urgency": ["low", "high"]}
    # Sending the same values again changes nothing and writes no audit row.
    client.patch(f"/api/v1/services/{created['id']}", headers=admin, json={"name": "Checkout API"})
    assert len(_audit("service.update")) == 1


def test_list_pages_with_a_cursor_and_counts_open_incidents(client, session, admin, viewer):
    ids = [_create(client, admin, name=f"svc-{i}")["id"] for i in range(5)]
    token = _integration(client, admin, ids[0])["token"]
    _alert(client, token)
    first = client.get("/api/v1/services?limit=2", headers=viewer).json()
    second = client.get(f"/api/v1/services?limit=2&cursor={first['next_cursor']}", headers=viewer).json()
    third = client.get(f"/api/v1/services?limit=2&cursor={second['next_cursor']}", headers=viewer).json()
    assert [s["id"] for s in first["data"] + second["data"] + third["data"]] == ids
    assert third["next_cursor"] is None
    assert first["data"][0]["open_incidents"] == 1 and first["data"][0]["integrations"] == 1
    assert first["data"][1]["open_incidents"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "two\nlines"}, "name"),
    ({"name": "ok", "description": "nul \x00 byte"}, "description"),
    ({"name": "ok", "default_urgency": "medium"}, "default_urgency"),
    ({"name": "ok", "escalation_policy_id": 999_999}, "escalation_policy_id"),
    ({"name": "ok", "team_id": 0}, "team_id"),
    ({"name": "ok", "colour": "red"}, "colour"),
    ({"name": "ok", "maintenance": {"until": "2030-01-01T00:00:00"}}, "maintenance.until"),
    ({"name": "ok", "maintenance": {"until": "0001-01-01T00:00:00+05:00"}}, "maintenance.until"),
    ({}, "name"),
])
def test_invalid_service_is_400_naming_the_field(client, admin, body, field):
    response = client.post("/api/v1/services", headers=admin, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert any(f.startswith(field) for f in error["fields"]), error
    assert count(Service) == 0


def test_duplicate_name_is_409_on_create_and_rename(client, admin):
    _create(client, admin, name="Checkout")
    other = _create(client, admin, name="Search")
    duplicate = client.post("/api/v1/services", headers=admin, json={"name": "checkout"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["fields"] == ["name: taken"]
    rename = client.patch(f"/api/v1/services/{other['id']}", headers=admin, json={"name": "Checkout"})
    assert rename.status_code == 409 and "exists already" in rename.json()["error"]["message"]
    assert client.patch(f"/api/v1/services/{other['id']}", headers=admin, json={"name": None}).status_code == 400


def test_maintenance_window_now_scheduled_invalid_and_cleared(client, session, admin):
    now = clock.now().replace(microsecond=0)
    clock.set_now(now)
    service = _create(client, admin)
    url = f"/api/v1/services/{service['id']}"
    later = (now + timedelta(hours=2)).isoformat()

    started = client.patch(url, headers=admin, json={"maintenance": {"until": later}}).json()["maintenance"]
    assert started == {"start": now.isoformat(), "until": later, "active": True}
    token = _integration(client, admin, service["id"])["token"]
    assert _alert(client, token).status_code == 202
    kinds = {e.kind for e in rows(TimelineEvent)}
    assert TimelineKind.MAINTENANCE in kinds  # stored, and nobody paged

    scheduled = {"start": (now + timedelta(hours=1)).isoformat(), "until": later}
    assert client.patch(url, headers=admin, json={"maintenance": scheduled}).json()["maintenance"]["active"] is False
    backwards = client.patch(url, headers=admin, json={"maintenance": {"start": later, "until": scheduled["start"]}})
    assert backwards.status_code == 400 and backwards.json()["error"]["fields"] == [
        "maintenance.until: must be after the start"]
    past = client.patch(url, headers=admin, json={"maintenance": {"until": (now - timedelta(minutes=1)).isoformat()}})
    assert past.status_code == 400 and "future" in past.json()["error"]["message"]

    cleared = client.patch(url, headers=admin, json={"maintenance": None}).json()
    assert cleared["maintenance"] is None
    assert _audit("service.update")[-1].changes["maintenance_until"] == [later, None]


def test_delete_is_refused_while_incidents_exist_and_cascades_integrations(client, session, admin):
    busy = _create(client, admin, name="Busy")
    token = _integration(client, admin, busy["id"])["token"]
    _alert(client, token)
    refused = client.delete(f"/api/v1/services/{busy['id']}", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == "'Busy' has 1 open incident(s); resolve them before deleting it"
    _alert(client, token, action="resolve")
    history = client.delete(f"/api/v1/services/{busy['id']}", headers=admin)
    assert history.status_code == 409 and "history of 1 resolved incident" in history.json()["error"]["message"]
    assert count(Service) == 1 and not _audit("service.delete")

    idle = _create(client, admin, name="Idle")
    idle_token = _integration(client, admin, idle["id"])["token"]
    deleted = client.delete(f"/api/v1/services/{idle['id']}", headers=admin)
    assert deleted.status_code == 204 and deleted.content == b""
    assert count(Integration, Integration.service_id == idle["id"]) == 0
    assert _alert(client, idle_token).status_code == 401
    assert client.get(f"/api/v1/services/{idle['id']}", headers=admin).status_code == 404
    [entry] = _audit("service.delete")
    assert entry.entity_id == str(idle["id"]) and entry.changes["integrations_deleted"] == 1


def test_unknown_ids_are_404_and_out_of_range_ids_400(client, admin):
    for method, url in [("get", "/api/v1/services/999"), ("patch", "/api/v1/services/999"),
                        ("delete", "/api/v1/services/999"), ("get", "/api/v1/services/999/integrations"),
                        ("post", "/api/v1/services/999/integrations"), ("get", "/api/v1/integrations/999"),
                        ("patch", "/api/v1/integrations/999"), ("delete", "/api/v1/integrations/999"),
                        ("post", "/api/v1/integrations/999/rotate")]:
        body = {"source_type": "generic"} if url.endswith("integrations") and method == "post" else {}
        kwargs = {"json": body} if method in ("post", "patch") else {}
        response = getattr(client, method)(url, headers=admin, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/services/{2**31}", headers=admin).status_code == 400
    assert client.get("/api/v1/services?limit=0", headers=admin).status_code == 400


# --- who may do what -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "scopes"), [(Role.VIEWER, ("read", "write")), (Role.RESPONDER, ("read", "write")),
                                              (Role.ADMIN, ("read",))])
def test_only_admin_keys_with_write_scope_change_anything(client, session, admin, role, scopes):
    service = _create(client, admin)
    integration = _integration(client, admin, service["id"])
    headers = api_headers(session, role, scopes=scopes)
    writes = [("post", "/api/v1/services", {"name": "Other"}),
              ("patch", f"/api/v1/services/{service['id']}", {"name": "Renamed"}),
              ("delete", f"/api/v1/services/{service['id']}", None),
              ("post", f"/api/v1/services/{service['id']}/integrations", {"source_type": "generic"}),
              ("patch", f"/api/v1/integrations/{integration['id']}", {"enabled": False}),
              ("post", f"/api/v1/integrations/{integration['id']}/rotate", None),
              ("delete", f"/api/v1/integrations/{integration['id']}", None)]
    for method, url, body in writes:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(client, method)(url, headers=headers, **kwargs)
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["error"]["code"] == "forbidden"
    for url in ["/api/v1/services", f"/api/v1/services/{service['id']}",
                f"/api/v1/services/{service['id']}/integrations", f"/api/v1/integrations/{integration['id']}"]:
        assert client.get(url, headers=headers).status_code == 200
    assert count(Service) == 1 and count(Integration) == 1
    assert _alert(client, integration["token"]).status_code == 202  # not rotated, not disabled
    assert {e.action for e in rows(AuditLog)} == {"service.create", "integration.create"}


def test_no_key_is_401(client):
    response = client.get("/api/v1/services")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert client.post("/api/v1/services", json={"name": "x"}).status_code == 401


# --- integrations --------------------------------------------------------------------------------------------------


def test_token_is_shown_once_and_works_against_the_webhook(client, session, admin, viewer):
    service = _create(client, admin)
    created = _integration(client, admin, service["id"], name="Cron scripts")
    token = created["token"]
    assert token.startswith("okt_") and len(token) == 32 and created["token_prefix"] == token[:12]
    assert token in created["snippet"] and "http://localhost:3000/api/webhooks/generic" in created["snippet"]
    assert created["endpoint"] == "http://localhost:3000/api/webhooks/generic"
    assert created["has_hmac_secret"] is False and "hmac_secret" not in created

    reads = [client.get(f"/api/v1/services/{service['id']}/integrations", headers=viewer),
             client.get(f"/api/v1/integrations/{created['id']}", headers=viewer)]
    for read in reads:
        assert read.status_code == 200
        assert token not in read.text and "token_digest" not in read.text and '"hmac_secret"' not in read.text
    listed = reads[0].json()["data"]
    assert [i["name"] for i in listed] == ["Cron scripts"] and listed[0]["enabled"] is True

    accepted = _alert(client, token)
    assert accepted.status_code == 202 and accepted.json()["alerts"] == 1
    assert count(Incident, Incident.service_id == service["id"]) == 1
    [entry] = _audit("integration.create")
    assert entry.changes["source_type"] == "generic" and token not in json.dumps(entry.changes)


def test_alertmanager_snippet_is_valid_config_that_the_webhook_accepts(client, admin):
    service = _create(client, admin)
    created = _integration(client, admin, service["id"], "prometheus", options={"group_by": "group_key"})
    assert created["options"] == {"group_by": "group_key"}
    config = yaml.safe_load(created["snippet"])
    [webhook] = config["receivers"][0]["webhook_configs"]
    assert webhook["send_resolved"] is True
    credentials = webhook["http_config"]["authorization"]["credentials"]  # Alertmanager's default type: Bearer
    response = client.post(urlsplit(webhook["url"]).path, json=fixture("alertmanager-mixed.json"),
                           headers={"Authorization": f"Bearer {credentials}"})
    assert response.status_code == 202, response.text
    assert count(Incident) == 1  # group_key: one incident for the group


def test_grafana_and_datadog_snippets_name_the_url_and_header_the_webhook_accepts(client, admin):
    service = _create(client, admin)
    grafana = _integration(client, admin, service["id"], "grafana")
    assert "authorization_scheme: Bearer" in grafana["snippet"]
    assert f"authorization_credentials: {grafana['token']}" in grafana["snippet"]
    assert client.post(urlsplit(grafana["endpoint"]).path, json=fixture("grafana-alerting.json"),
                       headers={"Authorization": f"Bearer {grafana['token']}"}).status_code == 202

    datadog = _integration(client, admin, service["id"], "datadog")
    lines = datadog["snippet"].splitlines()
    url = next(line.split("URL:", 1)[1].strip() for line in lines if line.strip().startswith("URL:"))
    headers = json.loads(next(line.split("Custom Headers:", 1)[1] for line in lines if "Custom Headers:" in line))
    assert url == datadog["endpoint"] and '"alert_cycle_key": "$ALERT_CYCLE_KEY"' in datadog["snippet"]
    assert client.post(urlsplit(url).path, json=fixture("datadog-recommended.json"), headers=headers).status_code == 202


def test_events_v2_and_heartbeat_snippets(client, admin):
    service = _create(client, admin)
    events = _integration(client, admin, service["id"], "events_v2")
    assert f"Routing key: {events['token']}" in events["snippet"] and "/api/v2/enqueue" in events["snippet"]
    sent = client.post("/api/v2/enqueue", json={"routing_key": events["token"], "event_action": "trigger",
                                                "payload": {"summary": "x", "source": "y", "severity": "error"}})
    assert sent.status_code == 202

    missing = client.post(f"/api/v1/services/{service['id']}/integrations", headers=admin,
                          json={"source_type": "heartbeat"})
    assert missing.status_code == 400 and missing.json()["error"]["fields"][0].startswith("heartbeat_interval")
    beat = _integration(client, admin, service["id"], "heartbeat", heartbeat_interval_seconds=300)
    ping = f"/api/webhooks/heartbeat/{beat['id']}?token={beat['token']}"
    assert ping in beat["snippet"]
    assert client.get(ping).status_code == 202


@pytest.mark.parametrize(("body", "field"), [
    ({"source_type": "nagios"}, "source_type"),
    ({"source_type": "generic", "options": {"group_by": "group_key"}}, "options"),
    ({"source_type": "prometheus", "options": {"group_by": "labels"}}, "options.group_by"),
    ({"source_type": "generic", "heartbeat_interval_seconds": 60}, "heartbeat_interval_seconds"),
    ({"source_type": "heartbeat", "heartbeat_interval_seconds": 10}, "heartbeat_interval_seconds"),
    ({"source_type": "generic", "name": ""}, "name"),
])
def test_invalid_integration_is_400(client, admin, body, field):
    service = _create(client, admin)
    response = client.post(f"/api/v1/services/{service['id']}/integrations", headers=admin, json=body)
    assert response.status_code == 400, response.text
    assert any(f.startswith(field) for f in response.json()["error"]["fields"]), response.json()
    assert count(Integration) == 0


def test_rotated_token_replaces_the_old_one(client, admin):
    service = _create(client, admin)
    created = _integration(client, admin, service["id"])
    rotated = client.post(f"/api/v1/integrations/{created['id']}/rotate", headers=admin)
    assert rotated.status_code == 200
    new = rotated.json()["token"]
    assert new != created["token"] and new in rotated.json()["snippet"]
    assert _alert(client, created["token"]).status_code == 401
    assert _alert(client, new).status_code == 202
    [entry] = _audit("integration.rotate_token")
    assert entry.changes["token"] == "***" and entry.changes["token_prefix"] == [created["token_prefix"], new[:12]]


def test_disabled_integration_is_refused_until_enabled(client, admin):
    service = _create(client, admin)
    created = _integration(client, admin, service["id"])
    url = f"/api/v1/integrations/{created['id']}"
    assert client.patch(url, headers=admin, json={"enabled": False}).json()["enabled"] is False
    refused = _alert(client, created["token"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "integration_disabled"
    assert client.patch(url, headers=admin, json={"enabled": True, "name": "Back"}).json()["name"] == "Back"
    assert _alert(client, created["token"]).status_code == 202
    assert [e.changes for e in _audit("integration.update")] == [
        {"enabled": [True, False]}, {"enabled": [False, True], "name": ["generic for Checkout", "Back"]}]


def test_hmac_secret_set_required_and_cleared(client, admin, viewer):
    service = _create(client, admin)
    created = _integration(client, admin, service["id"])
    url = f"/api/v1/integrations/{created['id']}"
    secret = "s3cr3t-" + "x" * 20
    updated = client.patch(url, headers=admin, json={"hmac_secret": secret})
    assert updated.status_code == 200 and updated.json()["has_hmac_secret"] is True
    assert secret not in updated.text and secret not in client.get(url, headers=viewer).text

    body = json.dumps({"summary": "signed"}).encode()
    headers = {"Authorization": f"Bearer {created['token']}", "Content-Type": "application/json"}
    assert client.post("/api/webhooks/generic", content=body, headers=headers).status_code == 401
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    signed = client.post("/api/webhooks/generic", content=body, headers={**headers, "X-OpsKnight-Signature": signature})
    assert signed.status_code == 202

    assert client.patch(url, headers=admin, json={"hmac_secret": "short"}).status_code == 400
    assert client.patch(url, headers=admin, json={"hmac_secret": None}).json()["has_hmac_secret"] is False
    assert client.post("/api/webhooks/generic", content=body, headers=headers).status_code == 202
    changes = [e.changes for e in _audit("integration.update")]
    assert changes == [{"hmac_secret": "***", "has_hmac_secret": [False, True]},
                       {"hmac_secret": "***", "has_hmac_secret": [True, False]}]
    assert secret not in json.dumps([e.changes for e in rows(AuditLog)])


def test_generated_hmac_secret_is_returned_once_with_signing_instructions(client, admin):
    service = _create(client, admin)
    created = _integration(client, admin, service["id"], with_hmac_secret=True)
    assert len(created["hmac_secret"]) == 64 and created["has_hmac_secret"] is True
    assert "X-OpsKnight-Signature" in created["snippet"] and created["hmac_secret"] not in created["snippet"]
    body = b'{"summary": "signed"}'
    signature = "sha256=" + hmac.new(created["hmac_secret"].encode(), body, hashlib.sha256).hexdigest()
    response = client.post("/api/webhooks/generic", content=body,
                           headers={"Authorization": f"Bearer {created['token']}", "X-OpsKnight-Signature": signature})
    assert response.status_code == 202


def test_options_and_heartbeat_interval_updates(client, session, admin):
    service = _create(client, admin)
    prom = _integration(client, admin, service["id"], "prometheus")
    beat = _integration(client, admin, service["id"], "heartbeat", heartbeat_interval_seconds=60)
    prom_url, beat_url = f"/api/v1/integrations/{prom['id']}", f"/api/v1/integrations/{beat['id']}"
    assert client.patch(prom_url, headers=admin, json={"options": {"group_by": "group_key"}}).json()["options"] == {
        "group_by": "group_key"}
    refused = client.patch(beat_url, headers=admin, json={"options": {"group_by": "group_key"}})
    assert refused.status_code == 400 and refused.json()["error"]["fields"][0].startswith("options")
    assert client.patch(prom_url, headers=admin, json={"heartbeat_interval_seconds": 60}).status_code == 400
    assert client.patch(beat_url, headers=admin, json={"heartbeat_interval_seconds": None}).status_code == 400
    assert client.patch(beat_url, headers=admin,
                        json={"heartbeat_interval_seconds": 600}).json()["heartbeat_interval_seconds"] == 600

    # Re-enabling a heartbeat starts its interval afresh instead of reporting the pings missed while disabled.
    client.patch(beat_url, headers=admin, json={"enabled": False})
    now = clock.now() + timedelta(hours=3)
    clock.set_now(now)
    client.patch(beat_url, headers=admin, json={"enabled": True})
    assert rows(Integration, Integration.id == beat["id"])[0].last_heartbeat_at == now


def test_delete_integration_stops_its_token(client, admin):
    service = _create(client, admin)
    created = _integration(client, admin, service["id"])
    assert client.delete(f"/api/v1/integrations/{created['id']}", headers=admin).status_code == 204
    assert _alert(client, created["token"]).status_code == 401
    assert client.get(f"/api/v1/services/{service['id']}/integrations", headers=admin).json() == {"data": []}
    [entry] = _audit("integration.delete")
    assert entry.entity_id == str(created["id"]) and entry.changes["source_type"] == ["generic", None]


def test_services_made_elsewhere_are_listed(client, session, viewer):
    service = make_service(session)
    assert client.get("/api/v1/services", headers=viewer).json()["data"][0]["name"] == service.name
