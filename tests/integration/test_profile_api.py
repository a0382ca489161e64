"""The signed-in user's own account through /api/v1/me on PostgreSQL + Redis: contact method validation, test
messages that really reach the local fake providers, API keys shown once and revoked at once, password change
ending the other sessions, and a disabled user who is locked out and never paged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from opsknight import accounts
from opsknight.admin import Invalid, profile, users
from opsknight.config import reset_settings
from opsknight.engine import clock, jobs
from opsknight.models import ApiKey, AuditLog, Delivery, User
from tests.factories import api_headers, make_integration, make_policy, make_service
from tests.fakes.smtp import SmtpFake
from tests.integration.conftest import rows
from tests.integration.test_paging import person, tick, trigger, twilio  # noqa: F401 - twilio is a fixture

ME = "/api/v1/me"
CONTACTS = f"{ME}/contact-methods"
KEYS = f"{ME}/api-keys"


def _principal(session, email: str) -> accounts.Principal:
    user = session.exec(select(User).where(User.email == email)).one()
    return accounts.Principal(user_id=user.id, email=user.email, name=user.name, role=user.role)


def _admin(session) -> User:
    admin = accounts.create_user(session, email="root@example.com", name="Root", role="admin",
                                 password="pw-long-enough")
    session.commit()
    return admin


@pytest.fixture
def ann(session) -> dict:
    return api_headers(session, "responder", email="ann@example.com")


@pytest.fixture
def smtp(pg, monkeypatch):
    with SmtpFake() as fake:
        for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(fake.port), "SMTP_STARTTLS": "false",
                            "SMTP_FROM": "OpsKnight <pager@example.com>", "BASE_URL": "http://testserver"}.items():
            monkeypatch.setenv(f"OPSKNIGHT_{name}", value)
        reset_settings()
        jobs.channel_registry.cache_clear()
        yield fake
        jobs.channel_registry.cache_clear()
        fake.assert_no_unexpected()


@pytest.mark.parametrize(("body", "stored"), [
    ({"kind": "email", "address": " Ann@Example.COM "}, "ann@example.com"),
    ({"kind": "sms", "address": "+44 20 7946 0958"}, "+442079460958"),
    ({"kind": "whatsapp", "address": "whatsapp:+4915112345678"}, "+4915112345678"),
    ({"kind": "slack", "address": "U024BE7LH"}, "U024BE7LH"),
    ({"kind": "push", "address": "https://fcm.googleapis.com/fcm/send/abc123",
      "push_keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                    "auth": "tBHItJI5svbpez7KI4CCXg"}}, "fcm.googleapis.com (browser)"),
])
def test_valid_contact_methods_are_normalized(client, ann, body, stored):
    response = client.post(CONTACTS, json=body, headers=ann)
    assert response.status_code == 201, response.text
    assert response.json()["address"] == stored
    assert "push_keys" not in response.text and "auth" not in response.json()


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "email", "address": "ann at example"}, "address"),
    ({"kind": "sms", "address": "4155552671"}, "address"),  # no country code
    ({"kind": "sms", "address": "+1 555 0100"}, "address"),  # too short to be a number
    ({"kind": "whatsapp", "address": "+999 1234 5678"}, "address"),  # no such country
    ({"kind": "slack", "address": "@ann"}, "address"),
    ({"kind": "push", "address": "http://push.example.com/x",
      "push_keys": {"p256dh": "A" * 20, "auth": "B" * 10}}, "address"),
    ({"kind": "push", "address": "https://fcm.googleapis.com/fcm/send/x"}, "push_keys"),
    ({"kind": "push", "address": "https://10.0.0.5/admin",  # not a push service: the server would POST there
      "push_keys": {"p256dh": "A" * 20, "auth": "B" * 10}}, "address"),
    ({"kind": "push", "address": "https://[::1/x", "push_keys": {"p256dh": "A" * 20, "auth": "B" * 10}}, "address"),
    ({"kind": "email", "address": "ann\x00@example.com"}, "request"),  # PostgreSQL text cannot hold NUL
    ({"kind": "pager", "address": "1234"}, "kind"),
    ({"kind": "email", "address": ""}, "address"),
])
def test_invalid_contact_methods_are_refused_naming_the_field(client, ann, body, field):
    response = client.post(CONTACTS, json=body, headers=ann)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["fields"][0].startswith(field)


def test_contact_method_crud_and_duplicates(client, ann):
    created = client.post(CONTACTS, json={"kind": "sms", "address": "+14155552671", "label": "phone"}, headers=ann)
    cm = created.json()
    assert client.post(CONTACTS, json={"kind": "sms", "address": "+1 (415) 555-2671"}, headers=ann).status_code == 409
    changed = client.patch(f"{CONTACTS}/{cm['id']}", json={"label": "work phone", "address": "+14155552672"},
                           headers=ann)
    assert changed.status_code == 200 and changed.json()["label"] == "work phone"
    assert client.patch(f"{CONTACTS}/{cm['id']}", json={"address": "nope"}, headers=ann).status_code == 400
    assert client.get(f"{CONTACTS}/{cm['id']}", headers=ann).json()["address"] == "+14155552672"
    assert client.delete(f"{CONTACTS}/{cm['id']}", headers=ann).status_code == 204
    assert client.get(CONTACTS, headers=ann).json()["data"] == []
    assert client.delete(f"{CONTACTS}/{cm['id']}", headers=ann).status_code == 404


def test_viewers_and_read_only_keys_cannot_change_a_profile(client, session):
    viewer = api_headers(session, "viewer")
    read_only = api_headers(session, "responder", scopes=("read",))
    for headers in (viewer, read_only):
        assert client.post(CONTACTS, json={"kind": "email", "address": "a@example.com"}, headers=headers).status_code \
            == 403
        assert client.patch(ME, json={"time_zone": "Europe/Paris"}, headers=headers).status_code == 403
        assert client.post(KEYS, json={"name": "x"}, headers=headers).status_code == 403
        assert client.get(ME, headers=headers).status_code == 200


def test_profile_time_zone_and_quiet_hours(client, ann):
    response = client.patch(ME, json={"time_zone": "Asia/Kolkata", "quiet_hours": {"start": "23:30", "end": "06:00"}},
                            headers=ann)
    assert response.status_code == 200
    assert response.json()["time_zone"] == "Asia/Kolkata" and response.json()["quiet_hours"]["start"] == "23:30"
    bad = client.patch(ME, json={"time_zone": "../../etc/passwd"}, headers=ann)
    assert bad.status_code == 400 and bad.json()["error"]["fields"][0].startswith("time_zone")
    same = client.patch(ME, json={"quiet_hours": {"start": "07:00", "end": "07:00"}}, headers=ann)
    assert same.status_code == 400
    assert client.patch(ME, json={"role": "admin"}, headers=ann).status_code == 400  # not a profile field
    assert client.get(ME, headers=ann).json()["role"] == "responder"


def test_own_notification_rules(client, ann):
    cm = client.post(CONTACTS, json={"kind": "email", "address": "ann@example.com"}, headers=ann).json()
    rule = client.post(f"{ME}/notification-rules", json={"contact_method_id": cm["id"], "delay_minutes": "3",
                                                         "urgency": "low"}, headers=ann)
    assert rule.status_code == 201 and rule.json()["delay_minutes"] == 3
    too_late = client.post(f"{ME}/notification-rules", json={"contact_method_id": cm["id"], "delay_minutes": 100000},
                           headers=ann)
    assert too_late.status_code == 400
    assert [r["urgency"] for r in client.get(f"{ME}/notification-rules", headers=ann).json()["data"]] == ["low"]
    assert client.delete(f"{ME}/notification-rules/{rule.json()['id']}", headers=ann).status_code == 204


def test_test_message_reaches_the_fake_smtp_server(client, ann, smtp):
    cm = client.post(CONTACTS, json={"kind": "email", "address": "ann@example.com"}, headers=ann).json()
    response = client.post(f"{CONTACTS}/{cm['id']}/test", headers=ann)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "sent"
    [mail] = smtp.expect(1)
    assert mail.rcpt_tos == ["ann@example.com"] and mail.message["Subject"] == "[OpsKnight] Test message"
    assert "No action needed" in mail.message.get_body(("plain",)).get_content()
    assert rows(Delivery) == []  # no incident, no delivery row


def test_test_message_on_an_unconfigured_channel_says_so(client, ann):
    jobs.channel_registry.cache_clear()
    cm = client.post(CONTACTS, json={"kind": "sms", "address": "+14155552671"}, headers=ann).json()
    unconfigured = client.post(f"{CONTACTS}/{cm['id']}/test", headers=ann)
    assert unconfigured.status_code == 409 and unconfigured.json()["error"]["code"] == "delivery_failed"
    assert "sms channel is not configured" in unconfigured.json()["error"]["message"]


def test_test_message_over_sms(client, ann, twilio):
    cm = client.post(CONTACTS, json={"kind": "sms", "address": "+14155552671"}, headers=ann).json()
    assert client.post(f"{CONTACTS}/{cm['id']}/test", headers=ann).status_code == 200
    [sms] = twilio.expect(1)
    assert sms.form["To"] == "+14155552671" and sms.form["Body"].startswith("OpsKnight: Test message")
    assert "ack" not in sms.form["Body"]


def test_provider_refusal_and_the_rate_limit(client, ann, twilio):
    clock.set_now(clock.now())  # the limit counts in fixed ten-minute windows
    cm = client.post(CONTACTS, json={"kind": "sms", "address": "+14155552671"}, headers=ann).json()
    twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    refused = client.post(f"{CONTACTS}/{cm['id']}/test", headers=ann)
    assert refused.status_code == 409 and "21610" in refused.json()["error"]["message"]
    twilio.expect(1)
    for _ in range(4):
        assert client.post(f"{CONTACTS}/{cm['id']}/test", headers=ann).status_code == 200
    twilio.expect(4)
    assert client.post(f"{CONTACTS}/{cm['id']}/test", headers=ann).status_code == 429  # six in ten minutes
    clock.advance(timedelta(minutes=10))
    assert client.post(f"{CONTACTS}/{cm['id']}/test", headers=ann).status_code == 200
    twilio.expect(1)


def test_someone_elses_contact_method_cannot_be_tested(client, session, ann):
    bob = api_headers(session, "responder", email="bob@example.com")
    cm = client.post(CONTACTS, json={"kind": "email", "address": "ann@example.com"}, headers=ann).json()
    assert client.post(f"{CONTACTS}/{cm['id']}/test", headers=bob).status_code == 404
    ann_id = client.get(ME, headers=ann).json()["id"]
    assert client.post(f"/api/v1/users/{ann_id}/contact-methods/{cm['id']}/test", headers=bob).status_code == 403


def test_api_key_is_shown_once_listed_by_prefix_and_revoked_at_once(client, ann):
    created = client.post(KEYS, json={"name": "terraform", "scopes": ["read", "write"]}, headers=ann)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("okk_") and created.json()["prefix"] == key[:12]
    new_headers = {"Authorization": f"Bearer {key}"}
    assert client.get(ME, headers=new_headers).json()["email"] == "ann@example.com"
    listed = client.get(KEYS, headers=ann).json()["data"]
    assert [k["name"] for k in listed] == ["test", "terraform"]
    assert key not in str(listed) and "digest" not in str(listed) and listed[1]["last_used_at"] is not None
    assert listed[1]["scopes"] == ["read", "write"]

    assert client.delete(f"{KEYS}/{created.json()['id']}", headers=ann).status_code == 204
    assert client.get(ME, headers=new_headers).status_code == 401
    assert [k["name"] for k in client.get(KEYS, headers=ann).json()["data"]] == ["test"]
    assert client.delete(f"{KEYS}/{created.json()['id']}", headers=ann).status_code == 404
    actions = [(e.action, e.changes.get("name")) for e in rows(AuditLog, AuditLog.entity_type == "api_key",
                                                                order_by=AuditLog.id)]
    assert actions == [("api_key.create", "terraform"), ("api_key.revoke", "terraform")]
    assert key not in str([e.changes for e in rows(AuditLog)])


def test_api_keys_default_to_read_only_and_others_keys_cannot_be_revoked(client, session, ann):
    bob = api_headers(session, "responder", email="bob@example.com")
    created = client.post(KEYS, json={"name": "dashboards"}, headers=ann).json()
    assert created["scopes"] == ["read"]
    read_key = {"Authorization": f"Bearer {created['key']}"}
    assert client.post(CONTACTS, json={"kind": "email", "address": "a@example.com"}, headers=read_key).status_code \
        == 403
    assert client.delete(f"{KEYS}/{created['id']}", headers=bob).status_code == 404
    assert client.post(KEYS, json={"name": "x", "scopes": ["admin"]}, headers=ann).status_code == 400
    assert client.post(KEYS, json={"name": ""}, headers=ann).status_code == 400


def test_password_change_needs_the_current_password_and_ends_other_sessions(session, ann):
    user = session.exec(select(User).where(User.email == "ann@example.com")).one()
    here, laptop, phone = (accounts.create_session(session, user, days=14) for _ in range(3))
    session.commit()
    actor = _principal(session, "ann@example.com")
    with pytest.raises(Invalid, match="current_password"):
        profile.change_password(session, actor, {"current_password": "guess", "new_password": "brand new pw"},
                                current_token=here)
    with pytest.raises(Invalid, match="new_password"):
        profile.change_password(session, actor, {"current_password": "pw-long-enough", "new_password": "short"})
    ended = profile.change_password(session, actor, {"current_password": "pw-long-enough",
                                                     "new_password": "brand new pw"}, current_token=here)
    session.commit()
    assert ended == 2
    assert accounts.principal_for_session(session, here) is not None
    assert accounts.principal_for_session(session, laptop) is None and accounts.principal_for_session(session, phone) \
        is None
    assert accounts.authenticate(session, "ann@example.com", "brand new pw") is not None
    [entry] = rows(AuditLog, AuditLog.action == "user.password_change")
    assert entry.changes == {"password": "***", "other_sessions_ended": 2}


def test_wrong_current_passwords_count_against_the_sign_in_throttle(session, ann):
    actor = _principal(session, "ann@example.com")
    for _ in range(5):
        with pytest.raises(Invalid, match="wrong password"):
            profile.change_password(session, actor, {"current_password": "guess", "new_password": "brand new pw"})
    with pytest.raises(Invalid, match="Too many attempts"):
        profile.change_password(session, actor, {"current_password": "pw-long-enough", "new_password": "brand new pw"})


def test_sessions_list_and_sign_out_everywhere(session, ann):
    user = session.exec(select(User).where(User.email == "ann@example.com")).one()
    here = accounts.create_session(session, user, days=14, ip="192.0.2.1", user_agent="Firefox")
    other = accounts.create_session(session, user, days=14, ip="192.0.2.2", user_agent="Phone")
    session.commit()
    actor = _principal(session, "ann@example.com")
    listed = [profile.session_json(s, here) for s in profile.list_sessions(session, actor)]
    assert sorted((s["ip"], s["current"]) for s in listed) == [("192.0.2.1", True), ("192.0.2.2", False)]
    phone_id = next(s["id"] for s in listed if not s["current"])
    profile.end_session(session, actor, phone_id)
    assert accounts.principal_for_session(session, other) is None
    assert profile.sign_out_everywhere(session, actor) == 1
    session.commit()
    assert accounts.principal_for_session(session, here) is None
    assert profile.list_sessions(session, actor) == []


def test_disabled_user_loses_sessions_and_keys_at_once(client, session, ann):
    admin = api_headers(session, "admin")
    ann_id = client.get(ME, headers=ann).json()["id"]
    extra_key = client.post(KEYS, json={"name": "ci", "scopes": ["read", "write"]}, headers=ann).json()["key"]
    token = accounts.create_session(session, session.get(User, ann_id), days=14)
    session.commit()
    assert client.delete(f"/api/v1/users/{ann_id}", headers=admin).status_code == 204
    for headers in (ann, {"Authorization": f"Bearer {extra_key}"}):
        assert client.get(ME, headers=headers).status_code == 401
    session.expire_all()
    assert accounts.principal_for_session(session, token) is None
    assert all(k.revoked_at is not None for k in rows(ApiKey, ApiKey.user_id == ann_id))


def test_disabled_user_is_never_paged(client, session, twilio):
    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001")
    bob = person(session, "Bob", "+15551230002")
    token, _ = make_integration(session, make_service(session, policy=make_policy(
        session, steps=[[("user", ann), ("user", bob)]])), "generic")
    admin = _admin(session)
    users.disable_user(session, _principal(session, admin.email), ann)
    session.commit()
    trigger(client, token)
    [sms] = twilio.expect(1)
    assert sms.form["To"] == "+15551230002"
    tick(timedelta(minutes=2))
    assert twilio.take() == []
    assert {d.user_id for d in rows(Delivery)} == {bob}


def test_user_disabled_mid_incident_gets_no_delayed_page(client, session, twilio):
    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001", rules=((0, "high"), (3, "high")))
    token, _ = make_integration(session, make_service(session, policy=make_policy(session, steps=[[("user", ann)]])),
                                "generic")
    admin = _admin(session)
    trigger(client, token)
    twilio.expect(1)  # the first SMS, at once
    users.disable_user(session, _principal(session, admin.email), ann)
    session.commit()
    tick(timedelta(minutes=4))
    assert twilio.take() == []  # the 3-minute SMS is suppressed
    assert sorted(d.status for d in rows(Delivery)) == ["sent", "suppressed"]
    assert any("user disabled" in (d.error or "") for d in rows(Delivery))
