"""What the security review found at the edges: links of disabled users, malformed but signed Slack payloads,
odd acknowledge tokens, NUL in notes, oversized REST bodies. Each is a clear 4xx and changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest

from opsknight import accounts
from opsknight.admin import users as users_admin
from opsknight.config import reset_settings
from opsknight.engine import acks, clock
from opsknight.models import Delivery, Incident, Note, Role, TimelineEvent
from tests.factories import api_headers, make_service
from tests.integration.conftest import count, rows

SLACK_SECRET = "hardening-slack-secret"


@pytest.fixture
def incident(session) -> Incident:
    row = Incident(number=1, title="Checkout is down", dedup_key="k", service_id=make_service(session).id)
    session.add(row)
    session.commit()
    return row


def _link(session, incident: Incident, user_id: int) -> str:
    delivery = Delivery(incident_id=incident.id, user_id=user_id, channel="email", target="eve@example.com",
                        idempotency_key=f"d-{user_id}-{time.monotonic_ns()}", created_at=clock.now())
    session.add(delivery)
    session.commit()
    return f"/api/ack/{acks.make_token(delivery.id, clock.now())}"


def test_disabling_a_user_kills_their_acknowledge_links_for_good(client, session, incident):
    admin = accounts.create_user(session, email="root@example.com", name="Root", role=Role.ADMIN, password="pw-long-enough")
    eve = accounts.create_user(session, email="eve@example.com", name="Eve", password="pw-long-enough")
    session.commit()
    link = _link(session, incident, eve.id)
    actor = accounts.principal_for_user(admin)
    users_admin.disable_user(session, actor, eve.id)
    session.commit()
    refused = client.post(link, headers={"Accept": "application/json"})
    assert refused.status_code == 410 and "no longer valid" in refused.json()["error"]["message"]
    users_admin.enable_user(session, actor, eve.id)  # enabling again must not bring the old link back
    session.commit()
    assert client.post(link).status_code == 410
    session.refresh(incident)
    assert incident.status == "triggered"
    assert client.post(_link(session, incident, eve.id)).status_code == 200  # a link sent after works
    session.refresh(incident)
    assert incident.status == "acknowledged" and incident.acknowledged_by_id == eve.id


def test_disabling_ends_the_link_of_a_page_written_long_ago_and_sent_just_now(client, session, incident):
    """A delayed rule (or pacing, or retries) sends a page long after its row was written; its link is signed when
    it goes out, so it lives 24 h from then."""
    from datetime import timedelta

    admin = accounts.create_user(session, email="root@example.com", name="Root", role=Role.ADMIN, password="pw-long-enough")
    eve = accounts.create_user(session, email="eve@example.com", name="Eve", password="pw-long-enough")
    delivery = Delivery(incident_id=incident.id, user_id=eve.id, channel="email", target="eve@example.com",
                        idempotency_key="delayed", created_at=clock.now() - timedelta(days=2), sent_at=clock.now())
    session.add(delivery)
    session.commit()
    link = f"/api/ack/{acks.make_token(delivery.id, clock.now())}"
    users_admin.disable_user(session, accounts.principal_for_user(admin), eve.id)
    session.commit()
    assert client.post(link).status_code == 410
    session.refresh(incident)
    assert incident.status == "triggered"


def test_an_acknowledge_link_tells_open_pages(client, session, incident, redis_url):
    import redis

    from opsknight.broker import INCIDENTS_CHANNEL

    eve = accounts.create_user(session, email="eve@example.com", name="Eve", password="pw-long-enough")
    session.commit()
    link = _link(session, incident, eve.id)
    listener = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(INCIDENTS_CHANNEL)
    assert client.post(link).status_code == 200
    deadline, message = time.monotonic() + 5, None
    while message is None and time.monotonic() < deadline:
        message = listener.get_message(timeout=1)
    assert message is not None and str(incident.id) in message["data"].decode().split(",")
    listener.close()


@pytest.mark.parametrize("token", ["1.2.é", "1.2.\u2603", "1.9999999999.x", "a.b.c", "1.2", "٣.1.x",
                                   "9" * 5000 + ".1.x", "1.1.1.1"])
def test_an_odd_acknowledge_token_is_a_4xx(client, incident, token):
    for accept in ("application/json", "text/html"):
        response = client.post(f"/api/ack/{token}", headers={"Accept": accept})
        assert 400 <= response.status_code < 500, (token, response.status_code)
    assert rows(Incident)[0].status == "triggered"


def _signed_slack(client, form_payload: str):
    body = urlencode({"payload": form_payload})
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return client.post("/api/slack/interactions", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})


@pytest.mark.parametrize("payload", [
    "[1, 2]", '"block_actions"', "not json", "[" * 5000,
    json.dumps({"type": "block_actions", "user": "U1", "actions": [{"action_id": "ack", "value": "1"}]}),
    json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": ["ack"]}),
    json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "ack", "value": "9" * 5000}]}),
    json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "ack", "value": "99999999999"}]}),
])
def test_a_signed_slack_payload_of_an_unexpected_shape_is_a_400(client, incident, monkeypatch, payload):
    monkeypatch.setenv("OPSKNIGHT_SLACK_SIGNING_SECRET", SLACK_SECRET)
    reset_settings()
    response = _signed_slack(client, payload)
    assert response.status_code == 400, response.text
    assert rows(Incident)[0].status == "triggered"


def test_a_note_with_a_nul_character_is_a_400(client, session, incident):
    headers = api_headers(session, Role.RESPONDER)
    for raw in (r'{"body": "before\u0000after"}', r'{"body": "lone \ud800 surrogate"}'):
        response = client.post(f"/api/v1/incidents/{incident.id}/notes", content=raw,
                               headers=headers | {"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_request"
        assert any(word in response.json()["error"]["fields"][0].lower() for word in ("nul", "unicode")), response.text
    assert client.post(f"/api/v1/incidents/{incident.id}/notes", headers=headers, json={"body": "ok"}).status_code == 201
    assert count(Note) == 1 and count(TimelineEvent) == 1


def test_the_rest_api_refuses_a_10_mb_body_before_reading_it(client, session, incident):
    headers = api_headers(session, Role.RESPONDER) | {"Content-Type": "application/json"}
    big = json.dumps({"service_id": incident.service_id, "title": "x", "details": {"blob": "x" * 10_000_000}})
    response = client.post("/api/v1/incidents", headers=headers, content=big)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"

    def streamed():  # no Content-Length: refused once the bytes read pass the limit
        yield big[:500_000].encode()
        yield big[500_000:2_000_000].encode()
        yield big[2_000_000:].encode()

    response = client.post("/api/v1/incidents", headers=headers, content=streamed())
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert count(Incident) == 1
