"""Slack and web push pages end to end: the page goes out through the real SDK to a local fake, and the
responder's click (a signed Slack interaction, the push notification's Acknowledge action) acknowledges."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest

from opsknight import accounts
from opsknight.config import reset_settings
from opsknight.engine import clock, jobs, vapid
from opsknight.models import ContactMethod, Incident
from tests.factories import make_integration, make_policy, make_service
from tests.fakes.push import PushFake
from tests.fakes.slack import SlackFake
from tests.integration.conftest import rows
from tests.integration.test_paging import drain, trigger

SIGNING_SECRET = "slack-signing-secret"


@pytest.fixture
def configured(pg, monkeypatch):
    def configure(**env):
        for name, value in env.items():
            monkeypatch.setenv(f"OPSKNIGHT_{name}", value)
        monkeypatch.setenv("OPSKNIGHT_BASE_URL", "http://testserver")
        reset_settings()
        jobs.channel_registry.cache_clear()

    yield configure
    jobs.channel_registry.cache_clear()


def _responder(session, kind: str, address: str, **extra) -> tuple[int, str]:
    clock.set_now(clock.now())
    user = accounts.create_user(session, email=f"{kind}@example.com", name=f"{kind.title()} Responder",
                                password="pw-long-enough")
    session.add(ContactMethod(user_id=user.id, kind=kind, address=address, **extra))
    session.commit()
    token, _ = make_integration(session, make_service(session, policy=make_policy(
        session, steps=[[("user", user.id)]])), "generic")
    return user.id, token


def _slack_click(client, payload: dict, secret: str = SIGNING_SECRET, ts: int | None = None):
    body = urlencode({"payload": json.dumps(payload)})
    ts = ts or int(time.time())
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return client.post("/api/slack/interactions", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature})


def test_slack_dm_with_buttons_and_the_ack_click(client, session, configured):
    with SlackFake(token="xoxb-test") as slack:
        configured(SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack.api_url, SLACK_SIGNING_SECRET=SIGNING_SECRET)
        user_id, token = _responder(session, "slack", "U0ANN")
        trigger(client, token)
        requests = slack.expect(2)  # conversations.open, then chat.postMessage into the DM
        post = requests[-1]
        buttons = [e for block in post.json["blocks"] for e in block.get("elements", []) if e.get("type") == "button"]
        (incident,) = rows(Incident)
        assert {b["action_id"]: b["value"] for b in buttons} == {"ack": str(incident.id), "resolve": str(incident.id)}

        click = {"type": "block_actions", "user": {"id": "U0ANN"},
                 "actions": [{"action_id": "ack", "value": str(incident.id)}]}
        assert _slack_click(client, click, secret="wrong").status_code == 401
        assert _slack_click(client, click, ts=int(time.time()) - 600).status_code == 401  # replayed
        assert rows(Incident)[0].status == "triggered"
        response = _slack_click(client, click)
        assert response.status_code == 200 and "acknowledged" in response.json()["text"]
        incident = rows(Incident)[0]
        assert incident.status == "acknowledged" and incident.acknowledged_via == "slack"
        assert incident.acknowledged_by_id == user_id
        stranger = dict(click, user={"id": "U0NOBODY"})
        assert "not linked" in _slack_click(client, stranger).json()["text"]
        drain()
        slack.assert_no_unexpected()


def test_web_push_is_encrypted_and_its_ack_action_works(client, session, configured):
    private, public = vapid.generate_vapid_keys()
    with PushFake(vapid_public_key=public) as push:
        configured(VAPID_PRIVATE_KEY=private, VAPID_SUBJECT="mailto:oncall@example.com")
        subscription = push.subscription("phone-1")
        _, token = _responder(session, "push", subscription["endpoint"], push_subscription=subscription["keys"])
        number = trigger(client, token, summary="Payments failing")
        [request] = push.expect(1)
        payload = request.info["payload"]  # decrypted by the fake with the subscriber's keys
        assert payload["title"].startswith(f"#{number} HIGH · ") and payload["body"] == "Payments failing"
        assert payload["incident_number"] == number and payload["tag"] == f"incident-{rows(Incident)[0].id}"
        assert request.info["urgency"] == "high" and request.info["topic"] == payload["tag"]
        ack = client.post(payload["ack_url"].removeprefix("http://testserver"), headers={"Accept": "application/json"})
        assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
        assert rows(Incident)[0].acknowledged_via == "push"
        push.assert_no_unexpected()


def test_gone_push_subscription_is_deleted(client, session, configured):
    from tests.fakes.base import Reply

    private, public = vapid.generate_vapid_keys()
    with PushFake(vapid_public_key=public) as push:
        configured(VAPID_PRIVATE_KEY=private, VAPID_SUBJECT="mailto:oncall@example.com")
        subscription = push.subscription("old-phone")
        _, token = _responder(session, "push", subscription["endpoint"], push_subscription=subscription["keys"])
        push.respond_next(Reply(410, "gone"))
        trigger(client, token)
        push.expect(1)
        assert rows(ContactMethod) == []


def test_vapid_key_is_generated_once_and_published(client, pg):
    first = client.get("/api/push/vapid-public-key").json()["public_key"]
    assert client.get("/api/push/vapid-public-key").json()["public_key"] == first
    assert len(first) == 87  # base64url of a 65-byte uncompressed P-256 point
