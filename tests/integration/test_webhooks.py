"""Alert webhooks on PostgreSQL + Redis: authentication, dedup, every source's fixtures, bad input, outbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlmodel import Session

from opsknight import broker, db
from opsknight.engine import clock
from opsknight.models import Alert, Incident, Integration, OutboxJob, TimelineEvent
from tests.factories import make_integration, make_service
from tests.integration.conftest import count, fixture, rows


@pytest.fixture
def service(session):
    return make_service(session)


def _token(session, service, source="prometheus", **kwargs):
    return make_integration(session, service, source, **kwargs)[0]


def post(client, source, body, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(f"/api/webhooks/{source}", content=content, headers=headers, **kwargs)


def _nothing_stored():
    return count(Incident) == 0 and count(Alert) == 0 and count(OutboxJob) == 0


# --- authentication ---------------------------------------------------------------------------------


def test_missing_and_unknown_tokens_are_401_and_store_nothing(client, session, service):
    _token(session, service)
    body = fixture("alertmanager-firing.json")
    for token in (None, "okt_not-a-real-token-aaaaaaaaaaa"):
        response = post(client, "prometheus", body, token)
        assert response.status_code == 401
        assert response.json()["error"]["code"] in {"missing_token", "invalid_token"}
    assert _nothing_stored()


def test_disabled_integration_is_403(client, session, service):
    token, integration = make_integration(session, service, "prometheus")
    integration.enabled = False
    session.add(integration)
    session.commit()
    response = post(client, "prometheus", fixture("alertmanager-firing.json"), token)
    assert response.status_code == 403 and response.json()["error"]["code"] == "integration_disabled"
    assert _nothing_stored()


def test_token_of_another_source_is_403(client, session, service):
    token = _token(session, service, "grafana")
    response = post(client, "prometheus", fixture("alertmanager-firing.json"), token)
    assert response.status_code == 403 and response.json()["error"]["code"] == "wrong_endpoint"
    assert _nothing_stored()


@pytest.mark.parametrize("how", ["bearer", "query", "basic"])
def test_token_accepted_as_bearer_query_or_basic_auth(client, session, service, how):
    token = _token(session, service)
    body = json.dumps(fixture("alertmanager-firing.json"))
    if how == "bearer":
        response = client.post("/api/webhooks/prometheus", content=body, headers={"Authorization": f"Bearer {token}"})
    elif how == "query":
        response = client.post(f"/api/webhooks/prometheus?token={token}", content=body)
    else:
        basic = base64.b64encode(f"alertmanager:{token}".encode()).decode()
        response = client.post("/api/webhooks/prometheus", content=body, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 202, response.text
    assert count(Incident) == 2


def test_hmac_signature_is_checked_over_the_raw_body(client, session, service):
    token, integration = make_integration(session, service, "generic", with_hmac=True)
    body = json.dumps({"summary": "disk full", "severity": "critical"}).encode()
    good = "sha256=" + hmac.new(integration.hmac_secret.encode(), body, hashlib.sha256).hexdigest()
    assert post(client, "generic", body, token).status_code == 401  # no signature
    bad = post(client, "generic", body, token, headers={"X-OpsKnight-Signature": "sha256=" + "0" * 64})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_signature"
    assert _nothing_stored()
    assert post(client, "generic", body, token, headers={"X-OpsKnight-Signature": good}).status_code == 202
    assert count(Incident) == 1


@pytest.mark.parametrize("header", ["X-OpsKnight-Signature", "X-Grafana-Alerting-Signature"])
def test_a_signature_header_outside_ascii_is_a_wrong_signature_not_a_500(client, session, service, header):
    """HTTP lets bytes 0x80-0xFF through in header values; hmac.compare_digest raises on non-ASCII text."""
    token, _ = make_integration(session, service, "grafana", with_hmac=True)
    body = json.dumps(fixture("grafana-alerting.json")).encode()
    refused = post(client, "grafana", body, token, headers={header: "sha256=\xe9".encode("latin-1")})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "bad_signature"
    assert _nothing_stored()


def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_grafana_hmac_header_with_timestamp_is_refused_once_older_than_five_minutes(client, session, service):
    token, integration = make_integration(session, service, "grafana", with_hmac=True)
    body = json.dumps(fixture("grafana-alerting.json")).encode()
    sent = clock.now()
    clock.set_now(sent)

    def grafana(stamp: str) -> dict:
        return {"X-Grafana-Alerting-Signature": _hmac(integration.hmac_secret, f"{stamp}:".encode() + body),
                "X-Grafana-Alerting-Signature-Timestamp": stamp}

    headers = grafana(str(int(sent.timestamp())))
    assert post(client, "grafana", body, token, headers=headers).status_code == 202
    clock.advance(timedelta(minutes=5, seconds=2))  # the same request, captured and replayed later
    replayed = post(client, "grafana", body, token, headers=headers)
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "bad_signature"
    for stamp in ("1763719200", str(int(clock.now().timestamp()) + 400), "soon", "1e9", ""):
        assert post(client, "grafana", body, token, headers={
            **grafana(stamp), "X-Grafana-Alerting-Signature-Timestamp": stamp or " "}).status_code == 401
    assert count(Alert) == 1


def test_opsknight_signature_with_timestamp_is_accepted_fresh_and_refused_old(client, session, service):
    token, integration = make_integration(session, service, "generic", with_hmac=True)
    body = json.dumps({"summary": "disk full", "severity": "critical", "dedup_key": "disk"}).encode()
    clock.set_now(clock.now())
    stamp = int(clock.now().timestamp())
    signed = {"X-OpsKnight-Signature": f"t={stamp},v1={_hmac(integration.hmac_secret, f'{stamp}.'.encode() + body)}"}
    assert post(client, "generic", body, token, headers=signed).status_code == 202
    clock.advance(timedelta(minutes=6))
    assert post(client, "generic", body, token, headers=signed).status_code == 401  # replayed after the window
    # The signature covers the timestamp: a fresh t with the old v1 is wrong.
    moved = {"X-OpsKnight-Signature": signed["X-OpsKnight-Signature"].replace(f"t={stamp}",
                                                                             f"t={int(clock.now().timestamp())}")}
    assert post(client, "generic", body, token, headers=moved).status_code == 401
    for broken in ("t=,v1=00", f"t={stamp}", "t=abc,v1=" + "0" * 64, "t=1,v1=é"):
        assert post(client, "generic", body, token,
                    headers={"X-OpsKnight-Signature": broken.encode()}).status_code == 401
    assert count(Alert) == 1


# --- Alertmanager semantics -------------------------------------------------------------------------


def test_alertmanager_opens_one_incident_per_fingerprint_with_outbox_and_job(client, session, service):
    token = _token(session, service)
    response = post(client, "prometheus", fixture("alertmanager-firing.json"), token)
    assert response.status_code == 202
    assert [r["outcome"] for r in response.json()["incidents"]] == ["created", "created"]
    incidents = rows(Incident, order_by=Incident.number)
    assert {i.dedup_key for i in incidents} == {"a3c91f5e2b7d4c10", "5e0d77a1c4f93b28"}
    assert [i.number for i in incidents] == [incidents[0].number, incidents[0].number + 1]
    assert all(i.status == "triggered" for i in incidents)
    outbox = rows(OutboxJob)
    assert len(outbox) == 2 and all(o.processed_at is None and o.kind == "process_incident" for o in outbox)
    queued = broker.queue("urgent").get_job_ids()
    assert sorted(queued) == sorted(f"outbox-{o.id}" for o in outbox)
    timeline = rows(TimelineEvent, TimelineEvent.incident_id == incidents[0].id)
    assert timeline[0].kind == "triggered" and timeline[0].source == "prometheus"
    # Each timeline event names its alert and the alert row holding the request's raw body (kept once).
    for incident in incidents:
        (event,) = rows(TimelineEvent, TimelineEvent.incident_id == incident.id)
        raw_holder = rows(Alert, Alert.id == event.data["raw_alert_id"])[0]
        assert raw_holder.raw["groupKey"] == fixture("alertmanager-firing.json")["groupKey"]
        assert rows(Alert, Alert.id == event.data["alert_id"])[0].incident_id == incident.id
    assert sum(1 for a in rows(Alert) if a.raw is not None) == 1


def test_duplicate_trigger_attaches_and_resolved_alert_in_firing_payload_resolves(client, session, service):
    token = _token(session, service)
    post(client, "prometheus", fixture("alertmanager-firing.json"), token)
    again = post(client, "prometheus", fixture("alertmanager-firing.json"), token)
    assert [r["outcome"] for r in again.json()["incidents"]] == ["attached", "attached"]
    assert count(Incident) == 2 and count(OutboxJob) == 2  # a duplicate pages no one again
    mixed = post(client, "prometheus", fixture("alertmanager-mixed.json"), token)
    assert {r["dedup_key"]: r["outcome"] for r in mixed.json()["incidents"]} == {
        "a3c91f5e2b7d4c10": "resolved", "5e0d77a1c4f93b28": "attached"}
    resolved = rows(Incident, Incident.dedup_key == "a3c91f5e2b7d4c10")[0]
    assert resolved.status == "resolved" and resolved.resolved_by_source == "prometheus"
    assert resolved.alert_count == 3 and resolved.resolved_at is not None


def test_resolve_for_unknown_key_is_a_2xx_noop(client, session, service):
    token = _token(session, service)
    body = fixture("alertmanager-firing.json")
    for alert in body["alerts"]:
        alert["status"] = "resolved"
    response = post(client, "prometheus", body, token)
    assert response.status_code == 202
    assert [r["outcome"] for r in response.json()["incidents"]] == ["ignored", "ignored"]
    assert _nothing_stored()


def test_trigger_after_resolve_opens_a_new_incident(client, session, service):
    token = _token(session, service, "generic")
    post(client, "generic", {"summary": "x", "dedup_key": "k"}, token)
    post(client, "generic", {"summary": "x", "dedup_key": "k", "action": "resolve"}, token)
    post(client, "generic", {"summary": "x", "dedup_key": "k"}, token)
    incidents = rows(Incident, order_by=Incident.number)
    assert [i.status for i in incidents] == ["resolved", "triggered"]
    assert incidents[0].number != incidents[1].number


def test_group_key_option_makes_one_incident_per_group(client, session, service):
    token = _token(session, service, options={"group_by": "group_key"})
    response = post(client, "prometheus", fixture("alertmanager-firing.json"), token)
    assert response.status_code == 202
    (incident,) = rows(Incident)
    assert incident.dedup_key.startswith("group:")


def test_same_key_on_two_services_is_two_incidents(client, session, service):
    other = make_service(session)
    body = {"summary": "shared", "dedup_key": "same"}
    post(client, "generic", body, _token(session, service, "generic"))
    post(client, "generic", body, _token(session, other, "generic"))
    assert count(Incident) == 2


# --- other sources ----------------------------------------------------------------------------------


def test_grafana_fixture(client, session, service):
    token = _token(session, service, "grafana")
    assert post(client, "grafana", fixture("grafana-alerting.json"), token).status_code == 202
    (incident,) = rows(Incident)
    assert incident.dedup_key == "0f3e9b2c6d1a7e44"


def test_grafana_legacy_alerting_then_ok(client, session, service):
    token = _token(session, service, "grafana")
    post(client, "grafana", fixture("grafana-legacy-alerting.json"), token)
    post(client, "grafana", fixture("grafana-legacy-ok.json"), token)
    (incident,) = rows(Incident)
    assert incident.status == "resolved"


def test_datadog_trigger_then_recovered(client, session, service):
    token = _token(session, service, "datadog")
    assert post(client, "datadog", fixture("datadog-recommended.json"), token).status_code == 202
    (incident,) = rows(Incident)
    assert incident.dedup_key == "7309134651729302018" and incident.urgency == "high"  # P1
    post(client, "datadog", fixture("datadog-recovered.json"), token)
    assert rows(Incident)[0].status == "resolved"


def test_generic_batch(client, session, service):
    token = _token(session, service, "generic")
    response = post(client, "generic", fixture("generic-batch.json"), token)
    assert response.status_code == 202 and response.json()["alerts"] == 3


def test_severity_maps_to_urgency_unless_the_service_fixes_it(client, session, service):
    token = _token(session, service, "generic")
    post(client, "generic", [{"summary": "a", "severity": "critical"}, {"summary": "b", "severity": "warning"}], token)
    assert {i.title: i.urgency for i in rows(Incident)} == {"a": "high", "b": "low"}
    fixed = make_service(session, urgency_from_severity=False, default_urgency="low")
    post(client, "generic", {"summary": "c", "severity": "critical"}, _token(session, fixed, "generic"))
    assert rows(Incident, Incident.title == "c")[0].urgency == "low"


def test_maintenance_stores_the_alert_and_pages_no_one(client, session):
    quiet = make_service(session, maintenance_until=clock.now() + timedelta(hours=1))
    post(client, "generic", {"summary": "during maintenance"}, _token(session, quiet, "generic"))
    (incident,) = rows(Incident)
    assert count(OutboxJob) == 0
    kinds = [e.kind for e in rows(TimelineEvent, TimelineEvent.incident_id == incident.id)]
    assert kinds == ["triggered", "maintenance"]


# --- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "invalid_json"),
    (b"", "invalid_json"),
    (b'"just a string"', "invalid_payload"),
    (b'{"alerts": "nope"}', "invalid_payload"),
    (b'{"alerts": [42]}', "invalid_payload"),
])
def test_malformed_or_wrong_shape_is_400_with_a_clear_error(client, session, service, body, code):
    response = post(client, "prometheus", body, _token(session, service))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if code == "invalid_payload":
        assert error["fields"], "a shape error names the field"
    assert _nothing_stored()


def test_body_over_the_limit_is_413(client, session, service):
    token = _token(session, service, "generic")
    big = json.dumps({"summary": "x", "details": {"blob": "a" * (600 * 1024)}})
    response = post(client, "generic", big, token)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert _nothing_stored()


def test_unknown_fields_are_ignored_and_hostile_text_is_bounded(client, session, service):
    token = _token(session, service, "generic")
    body = {"summary": "<script>alert(1)</script>\n\x1b[31m" + "y" * 5000, "whatever": {"a": 1},
            "links": ["javascript:alert(1)", "https://ok.example/runbook"]}
    assert post(client, "generic", body, token).status_code == 202
    (incident,) = rows(Incident)
    assert len(incident.title) <= 1024 and "\n" not in incident.title and "\x1b" not in incident.title
    (alert,) = rows(Alert)
    assert [link["href"] for link in alert.payload["links"]] == ["https://ok.example/runbook"]


def test_large_raw_payload_is_kept_capped(client, session, service):
    token = _token(session, service, "generic")
    post(client, "generic", {"summary": "big", "details": {"blob": "b" * 40_000}}, token)
    (alert,) = rows(Alert)
    assert alert.raw["_truncated"] is True and len(alert.raw["head"]) == 4096


# --- durability and load ----------------------------------------------------------------------------


def test_redis_down_still_answers_2xx_and_the_reconciler_enqueues_later(client, session, service, monkeypatch):
    from opsknight.config import reset_settings
    from opsknight.engine import reconciler

    token = _token(session, service, "generic")
    good_redis = broker.redis_conn().connection_pool.connection_kwargs
    monkeypatch.setenv("OPSKNIGHT_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    reset_settings()
    broker.reset_redis()
    assert post(client, "generic", {"summary": "redis is down"}, token).status_code == 202
    (row,) = rows(OutboxJob)
    assert row.processed_at is None  # durable in PostgreSQL, not queued

    monkeypatch.setenv("OPSKNIGHT_REDIS_URL", f"redis://{good_redis['host']}:{good_redis['port']}/{good_redis['db']}")
    reset_settings()
    broker.reset_redis()
    clock.set_now(clock.now() + reconciler.GRACE + timedelta(seconds=1))
    assert reconciler.reconcile() == 1
    assert broker.queue("urgent").get_job_ids() == [f"outbox-{row.id}"]
    assert reconciler.reconcile() == 1 and len(broker.queue("urgent")) == 1  # queued once, not twice


def test_database_down_is_503_with_retry_after(client, session, service, monkeypatch):
    from opsknight.config import reset_settings

    token = _token(session, service, "generic")
    monkeypatch.setenv("OPSKNIGHT_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nothing")
    reset_settings()
    db.reset_engine()
    response = post(client, "generic", {"summary": "db is down"}, token)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json()["error"]["code"] == "unavailable"


def test_a_made_up_token_is_looked_up_once_and_then_refused_from_memory(client, session, service):
    from sqlalchemy import event

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine(), "before_cursor_execute", listener)
    try:
        for _ in range(5):
            response = post(client, "generic", {"summary": "x"}, "okt_made-up-token-aaaaaaaaaaaaaaaaa")
            assert response.status_code == 401
    finally:
        event.remove(db.engine(), "before_cursor_execute", listener)
    assert len([s for s in statements if "integrations" in s]) == 1
    assert _nothing_stored()


def test_a_flood_of_lookups_is_shed_but_a_known_token_goes_in(client, session, service, monkeypatch):
    from opsknight.api.webhooks import admission

    token = _token(session, service, "generic")
    assert post(client, "generic", {"summary": "seen once"}, token).status_code == 202  # now a known token
    monkeypatch.setattr(admission, "MAX_WAITING_LOOKUPS", 0)  # as if 256 lookups of made-up tokens were waiting
    shed = post(client, "generic", {"summary": "x"}, "okt_made-up-token-bbbbbbbbbbbbbbbbb")
    assert shed.status_code == 503 and shed.headers["Retry-After"]
    assert post(client, "generic", {"summary": "still accepted"}, token).status_code == 202
    assert count(Incident) == 2


def test_overload_is_shed_with_503_never_4xx(client, session, service, monkeypatch):
    from opsknight.api.webhooks import admission

    token = _token(session, service)
    monkeypatch.setattr(admission.in_flight, "limit", 0)
    response = post(client, "prometheus", fixture("alertmanager-firing.json"), token)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert _nothing_stored()


def test_alert_counts_in_metrics(client, session, service):
    post(client, "generic", {"summary": "counted"}, _token(session, service, "generic"))
    text = client.get("/metrics").text
    assert 'opsknight_alerts_received_total{outcome="created",source="generic"}' in text


def test_integration_last_used_is_recorded(client, session, service):
    token, integration = make_integration(session, service, "generic")
    post(client, "generic", {"summary": "touch"}, token)
    with Session(db.engine()) as s:
        assert s.get(Integration, integration.id).last_used_at is not None

