"""Web push as a paged person's phone sees it, on PostgreSQL + Redis + a real RQ worker, pywebpush talking to a
local fake push service that checks VAPID, TTL, Urgency and Topic and decrypts the payload: the notification's
links, receipts from the service worker, and "if push is not shown within N seconds, go on to my next rule"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from opsknight import accounts
from opsknight.engine import acks, clock, vapid
from opsknight.models import ContactMethod, Delivery, Incident, NotificationRule, TimelineEvent
from tests.factories import make_integration, make_policy, make_service
from tests.fakes.push import PushFake
from tests.fakes.twilio import TwilioFake
from tests.integration.conftest import rows
from tests.integration.test_paging import drain, tick, trigger
from tests.integration.test_paging_channels import configured  # noqa: F401 - fixture


@pytest.fixture
def phone(client, session, configured):  # noqa: F811
    """Ann: push on her Pixel 8 at once (shown within 30 s, or her next rule runs), SMS after 5 minutes."""
    private, public = vapid.generate_vapid_keys()
    with PushFake(vapid_public_key=public) as push, TwilioFake() as twilio:
        configured(VAPID_PRIVATE_KEY=private, VAPID_SUBJECT="mailto:oncall@example.com",
                   TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_AUTH_TOKEN=twilio.auth_token,
                   TWILIO_FROM_NUMBER="+15005550006", TWILIO_API_URL=twilio.url)
        clock.set_now(clock.now())
        ann = accounts.create_user(session, email="ann@example.com", name="Ann", password="pw-long-enough")
        subscription = push.subscription("pixel-8")
        device = ContactMethod(user_id=ann.id, kind="push", label="Pixel 8", address=subscription["endpoint"],
                               push_subscription=subscription["keys"])
        sms = ContactMethod(user_id=ann.id, kind="sms", address="+15551230001")
        session.add_all([device, sms])
        session.flush()
        session.add_all([NotificationRule(user_id=ann.id, contact_method_id=device.id, delay_minutes=0,
                                          fallthrough_seconds=30),
                         NotificationRule(user_id=ann.id, contact_method_id=sms.id, delay_minutes=5)])
        session.commit()
        token, _ = make_integration(session, make_service(session, policy=make_policy(
            session, steps=[[("user", ann.id)]])), "generic")
        yield {"push": push, "twilio": twilio, "token": token, "ann": ann}
        push.assert_no_unexpected()
        twilio.assert_no_unexpected()


def _payload(phone, client) -> dict:
    trigger(client, phone["token"], summary="Payments failing")
    [request] = phone["push"].expect(1)
    return request.info


def test_the_push_asks_the_push_service_for_what_a_phone_needs(client, phone):
    info = _payload(phone, client)
    payload = info["payload"]
    assert info["urgency"] == "high" and info["topic"] == payload["tag"]
    assert info["ttl"] == 3600  # no escalation follows this one step: the longest we ask for (never 0)
    assert payload["requireInteraction"] is True and payload["renotify"] is False
    assert [a["action"] for a in payload["actions"]] == ["acknowledge", "open"]
    assert payload["ack_url"].startswith("http://testserver/api/ack/")
    assert payload["ack_page_url"].startswith("http://testserver/ack/")
    assert payload["receipt_url"].startswith("http://testserver/api/push/receipts/")


def test_the_acknowledge_page_asks_and_only_a_post_acts_once(client, phone):
    payload = _payload(phone, client)["payload"]
    page = payload["ack_page_url"].removeprefix("http://testserver")
    assert client.get(page).status_code == 200 and rows(Incident)[0].status == "triggered"  # a tap, not an ack
    assert client.post(payload["ack_url"].removeprefix("http://testserver"),
                       headers={"Accept": "application/json"}).json()["status"] == "acknowledged"
    again = client.post(payload["ack_url"].removeprefix("http://testserver"), headers={"Accept": "application/json"})
    assert again.status_code == 410
    assert rows(Incident)[0].acknowledged_via == "push"


def test_an_expired_or_forged_acknowledge_token_acts_on_nothing(client, phone):
    payload = _payload(phone, client)["payload"]
    delivery_id = int(payload["ack_url"].rsplit("/", 1)[1].split(".")[0])
    old = acks.make_token(delivery_id, clock.now() - timedelta(hours=25))
    forged = payload["ack_url"].rsplit("/", 1)[1][:-6] + "000000"
    for token in (old, forged):
        response = client.post(f"/api/ack/{token}", headers={"Accept": "application/json"})
        assert response.status_code == 410, response.text
    assert rows(Incident)[0].status == "triggered"


def test_receipts_go_on_the_delivery_and_the_timeline_once(client, phone):
    payload = _payload(phone, client)["payload"]
    receipt = payload["receipt_url"].removeprefix("http://testserver")
    for _ in range(2):  # the service worker may retry
        assert client.post(receipt, json={"event": "displayed"}).status_code == 204
    assert client.post(receipt, json={"event": "acted", "action": "acknowledge"}).status_code == 204
    [delivery] = rows(Delivery, Delivery.channel == "push")
    assert delivery.displayed_at is not None and delivery.acted_at is not None
    messages = [e.message for e in rows(TimelineEvent, order_by=TimelineEvent.id)]
    assert messages.count("Push shown to Ann on Pixel 8") == 1
    assert "Ann tapped the push on Pixel 8 (acknowledge)" in messages


@pytest.mark.parametrize("token", ["1.2.3", "x", "99.9999999999.deadbeef"])
def test_a_forged_or_foreign_receipt_token_is_refused(client, phone, token):
    payload = _payload(phone, client)["payload"]
    ack_token = payload["ack_url"].rsplit("/", 1)[1]
    for bad in (token, ack_token):  # an acknowledge token is signed for another purpose
        response = client.post(f"/api/push/receipts/{bad}", json={"event": "displayed"})
        assert response.status_code in (403, 410), (bad, response.status_code)
    assert client.post(payload["receipt_url"].removeprefix("http://testserver"),
                       json={"event": "exploded"}).status_code == 422
    assert rows(Delivery, Delivery.channel == "push")[0].displayed_at is None


def test_a_push_not_shown_in_time_lets_the_next_rule_go_at_once(client, phone):
    _payload(phone, client)
    tick(timedelta(seconds=20))
    assert phone["twilio"].take() == []  # still within the push's 30 s
    tick(timedelta(seconds=15))
    [sms] = phone["twilio"].expect(1)  # at 35 s, not at 5 min
    assert sms.form["To"] == "+15551230001"
    assert any(re.search(r"Push to Ann not shown within 30 s: their sms goes out now instead of in \d min", e.message)
               for e in rows(TimelineEvent))
    tick(timedelta(minutes=6))
    assert phone["twilio"].take() == []  # that SMS was the 5-minute rule's: it does not go twice


def test_a_push_shown_in_time_leaves_the_next_rule_at_its_delay(client, phone):
    payload = _payload(phone, client)["payload"]
    assert client.post(payload["receipt_url"].removeprefix("http://testserver"),
                       json={"event": "displayed"}).status_code == 204
    tick(timedelta(seconds=35))
    assert phone["twilio"].take() == []
    tick(timedelta(minutes=5))
    [sms] = phone["twilio"].expect(1)  # nobody acknowledged: the SMS at its own time
    assert sms.form["To"] == "+15551230001"


def test_a_gone_subscription_is_deleted_and_the_next_rule_goes_at_once(client, session, phone):
    from tests.fakes.base import Reply

    phone["push"].respond_next(Reply(410, "gone"))
    trigger(client, phone["token"], summary="Payments failing")
    phone["push"].expect(1)
    drain()
    [sms] = phone["twilio"].expect(1)
    assert sms.form["To"] == "+15551230001"
    assert rows(ContactMethod, ContactMethod.kind == "push") == []


def test_a_disabled_users_subscriptions_are_never_used(client, session, phone):
    """Planned before the disable (a later rule, waiting): dropped when its time comes."""
    from opsknight.admin import users as users_admin
    from opsknight.models import Role

    ann = phone["ann"]
    push_rule = rows(NotificationRule, NotificationRule.user_id == ann.id, NotificationRule.delay_minutes == 0)[0]
    session.get(NotificationRule, push_rule.id).delay_minutes = 2  # the push waits 2 minutes now
    admin = accounts.create_user(session, email="root@example.com", name="Root", role=Role.ADMIN,
                                 password="pw-long-enough")
    session.commit()
    trigger(client, phone["token"], summary="Payments failing")
    assert phone["push"].take() == []  # planned, not yet due
    users_admin.disable_user(session, accounts.principal_for_user(admin), ann.id)
    session.commit()
    tick(timedelta(minutes=10))
    assert phone["push"].take() == [] and phone["twilio"].take() == []
    assert {d.status for d in rows(Delivery)} == {"suppressed"}


def test_two_unseen_devices_bring_forward_one_rule_not_two(client, session, phone):
    ann = phone["ann"]
    tablet_sub = phone["push"].subscription("tablet")
    tablet = ContactMethod(user_id=ann.id, kind="push", label="Tablet", address=tablet_sub["endpoint"],
                           push_subscription=tablet_sub["keys"])
    voice = ContactMethod(user_id=ann.id, kind="whatsapp", address="+15551230001")
    session.add_all([tablet, voice])
    session.flush()
    session.add_all([NotificationRule(user_id=ann.id, contact_method_id=tablet.id, delay_minutes=0,
                                      fallthrough_seconds=30),
                     NotificationRule(user_id=ann.id, contact_method_id=voice.id, delay_minutes=10)])
    session.commit()
    trigger(client, phone["token"], summary="Payments failing")
    phone["push"].expect(2)  # phone and tablet
    tick(timedelta(seconds=35))  # neither shown
    [sms] = phone["twilio"].expect(1)
    assert sms.form["To"] == "+15551230001" and not sms.form["To"].startswith("whatsapp:")
    tick(timedelta(seconds=5))
    assert phone["twilio"].take() == []  # the WhatsApp rule keeps its 10 minutes


def test_a_push_retrying_against_a_sick_push_service_still_falls_through_in_time(client, phone):
    from tests.fakes.base import Reply

    phone["push"].respond_next(*[Reply(503, "down")] * 3)
    trigger(client, phone["token"], summary="Payments failing")
    phone["push"].expect(1)  # the first try, refused; the retries back off
    tick(timedelta(seconds=35))
    phone["push"].take()
    [sms] = phone["twilio"].expect(1)  # at 35 s, although the push never went through
    assert sms.form["To"] == "+15551230001"


def test_subscriptions_from_the_browser_renew_but_never_resurrect(client, session, phone, monkeypatch):
    from opsknight.admin import contacts

    monkeypatch.setenv("OPSKNIGHT_EXTRA_PUSH_SERVICES", phone["push"].url)  # the local push service's endpoints
    ann = phone["ann"]
    principal = accounts.principal_for_user(ann)
    sub = phone["push"].subscription("new-laptop")
    body = {"subscription": sub, "device": "Chrome on Linux"}
    assert contacts.save_push_subscription(session, principal, body) == (None, False)  # no tap: nothing new
    contact, created = contacts.save_push_subscription(session, principal, {**body, "enable": True})
    assert created and contact.label == "Chrome on Linux"
    contact.label = "My laptop"  # the person renames it
    renewed = phone["push"].subscription("new-laptop-renewed")
    contact, created = contacts.save_push_subscription(session, principal, {
        "subscription": renewed, "device": "Chrome on Linux", "previous_endpoint": sub["endpoint"]})
    assert not created and contact.address == renewed["endpoint"] and contact.label == "My laptop"
    session.delete(contact)  # removed on the profile page
    session.flush()
    assert contacts.save_push_subscription(session, principal, {"subscription": renewed}) == (None, False)
    # A shared browser: Bob enables push where Ann had it; Ann's pages stop going there.
    bob = accounts.create_user(session, email="bob@example.com", name="Bob", password="pw-long-enough")
    contacts.save_push_subscription(session, principal, {"subscription": renewed, "enable": True})
    moved, created = contacts.save_push_subscription(session, accounts.principal_for_user(bob),
                                                     {"subscription": renewed, "enable": True})
    assert created and moved.user_id == bob.id
    session.commit()
    assert {c.user_id for c in rows(ContactMethod) if c.address == renewed["endpoint"]} == {bob.id}
    assert contacts.forget_push_subscription(session, accounts.principal_for_user(bob), renewed["endpoint"])
    session.commit()
    assert not [c for c in rows(ContactMethod) if c.address == renewed["endpoint"]]


def test_a_push_lives_at_the_push_service_until_the_escalation_moves_on():
    from types import SimpleNamespace

    from opsknight.engine.dispatch import push_ttl

    now = clock.now()
    assert push_ttl(SimpleNamespace(next_escalation_at=now + timedelta(minutes=5)), now) == 300
    assert push_ttl(SimpleNamespace(next_escalation_at=now + timedelta(seconds=5)), now) == 60  # at least a minute
    assert push_ttl(SimpleNamespace(next_escalation_at=now + timedelta(hours=5)), now) == 3600
    assert push_ttl(SimpleNamespace(next_escalation_at=None), now) == 3600


def test_only_a_push_rule_can_go_on_when_not_shown(client, session):
    from tests.factories import api_headers

    headers = api_headers(session, "responder")
    push = client.post("/api/v1/me/contact-methods", headers=headers, json={
        "kind": "push", "address": "https://fcm.googleapis.com/fcm/send/abc123", "label": "Pixel 8",
        "push_keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                      "auth": "tBHItJI5svbpez7KI4CCXg"}}).json()
    sms = client.post("/api/v1/me/contact-methods", headers=headers,
                      json={"kind": "sms", "address": "+14155552671"}).json()
    ok = client.post("/api/v1/me/notification-rules", headers=headers,
                     json={"contact_method_id": push["id"], "fallthrough_seconds": 30})
    assert ok.status_code == 201 and ok.json()["fallthrough_seconds"] == 30, ok.text
    refused = client.post("/api/v1/me/notification-rules", headers=headers,
                          json={"contact_method_id": sms["id"], "fallthrough_seconds": 30})
    assert refused.status_code == 400 and "fallthrough_seconds" in refused.json()["error"]["fields"][0]
    assert client.post("/api/v1/me/notification-rules", headers=headers, json={
        "contact_method_id": push["id"], "delay_minutes": 1, "fallthrough_seconds": 2}).status_code == 400
