"""Users in the REST API on PostgreSQL: who may list, invite, edit and disable; what a disabled user loses at once;
contact methods and rules edited by an admin or by the user; audit entries; and no secret ever in a response."""

from __future__ import annotations

from sqlmodel import select

from opsknight import accounts
from opsknight.models import AuditLog, User
from tests.factories import api_headers
from tests.integration.conftest import rows

USERS = "/api/v1/users"


def _me(client, headers) -> dict:
    return client.get("/api/v1/me", headers=headers).json()


def _no_secrets(body) -> None:
    text = str(body)
    for leak in ("password_hash", "digest", "$2b$", "oks_", "ical_token"):
        assert leak not in text, leak


def _invite(client, admin, **fields) -> dict:
    body = {"email": "new@example.com", "name": "New Person", "role": "responder"} | fields
    response = client.post(USERS, json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_admin_invites_with_and_without_a_password(client, session):
    admin = api_headers(session, "admin")
    with_pw = _invite(client, admin, email="Pat@Example.com", password="first password", time_zone="Europe/Berlin")
    assert with_pw["email"] == "pat@example.com" and with_pw["role"] == "responder" and with_pw["can_sign_in"]
    assert with_pw["time_zone"] == "Europe/Berlin" and with_pw["status"] == "active"
    assert accounts.authenticate(session, "pat@example.com", "first password").id == with_pw["id"]
    invited = _invite(client, admin, email="quinn@example.com", role="viewer")
    assert invited["can_sign_in"] is False  # paged if on call, signs in once an admin sets a password
    _no_secrets([with_pw, invited])
    [entry] = rows(AuditLog, AuditLog.action == "user.create", AuditLog.entity_id == str(with_pw["id"]))
    assert entry.changes["password"] == "***" and entry.changes["role"] == "responder"


def test_invalid_invites_name_the_field(client, session):
    admin = api_headers(session, "admin")
    _invite(client, admin, email="taken@example.com")
    cases = [({"email": "not-an-email"}, 400, "email"), ({"time_zone": "Mars/Olympus"}, 400, "time_zone"),
             ({"role": "root"}, 400, "role"), ({"password": "short"}, 400, "password"), ({"name": "  "}, 400, "name"),
             ({"email": "TAKEN@example.com"}, 409, "email"), ({"extra": 1}, 400, "extra")]
    for fields, status, field in cases:
        body = {"email": "x@example.com", "name": "X"} | fields
        response = client.post(USERS, json=body, headers=admin)
        assert response.status_code == status, (fields, response.text)
        error = response.json()["error"]
        assert any(f.startswith(field) for f in error["fields"]), (fields, error)


def test_only_admins_write_but_every_key_reads(client, session):
    admin = api_headers(session, "admin")
    responder = api_headers(session, "responder")
    viewer = api_headers(session, "viewer")
    admin_read_only = api_headers(session, "admin", scopes=("read",))
    for headers in (responder, viewer, admin_read_only):
        assert client.post(USERS, json={"email": "a@example.com", "name": "A"}, headers=headers).status_code == 403
    assert client.post(USERS, json={"email": "a@example.com", "name": "A"}, headers=admin).status_code == 201
    someone = _me(client, responder)["id"]
    assert client.patch(f"{USERS}/{someone}", json={"role": "admin"}, headers=responder).status_code == 403
    assert client.delete(f"{USERS}/{someone}", headers=viewer).status_code == 403
    assert client.get(USERS, headers=viewer).status_code == 200
    assert client.get(f"{USERS}/{someone}", headers=admin_read_only).json()["id"] == someone
    assert client.get(USERS).status_code == 401
    assert client.get(f"{USERS}/999999", headers=viewer).json()["error"]["code"] == "not_found"


def test_list_filters_and_pages(client, session):
    admin = api_headers(session, "admin")
    for i in range(5):
        _invite(client, admin, email=f"user{i}@example.com", name=f"User {i}", role="viewer" if i % 2 else "responder")
    first = client.get(USERS, params={"limit": 3}, headers=admin).json()
    second = client.get(USERS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin).json()
    ids = [u["id"] for u in first["data"] + second["data"]]
    assert len(ids) == 6 and ids == sorted(ids) and second["next_cursor"] is None
    viewers = client.get(USERS, params={"role": "viewer"}, headers=admin).json()["data"]
    assert {u["email"] for u in viewers} == {"user1@example.com", "user3@example.com"}
    found = client.get(USERS, params={"q": "USER 4"}, headers=admin).json()["data"]
    assert [u["email"] for u in found] == ["user4@example.com"]
    assert client.get(USERS, params={"q": "%"}, headers=admin).json()["data"] == []  # a literal %, not a wildcard
    _no_secrets([first, second])


def test_patch_role_time_zone_quiet_hours_and_audit(client, session):
    admin = api_headers(session, "admin")
    user = _invite(client, admin)
    url = f"{USERS}/{user['id']}"
    response = client.patch(url, json={"role": "viewer", "time_zone": "America/New_York", "name": " Renamed  Person ",
                                       "quiet_hours": {"start": "22:00", "end": "07:00"}}, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["role"], body["time_zone"], body["name"]) == ("viewer", "America/New_York", "Renamed Person")
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert client.patch(url, json={"quiet_hours": None}, headers=admin).json()["quiet_hours"] is None
    bad = client.patch(url, json={"time_zone": "Europe/Nowhere", "quiet_hours": {"start": "25:00", "end": "07:00"}},
                       headers=admin)
    assert bad.status_code == 400
    assert {f.split(":")[0] for f in bad.json()["error"]["fields"]} == {"time_zone", "quiet_hours.start"}
    entries = rows(AuditLog, AuditLog.entity_type == "user", AuditLog.entity_id == str(user["id"]),
                   order_by=AuditLog.id)
    assert [e.action for e in entries] == ["user.create", "user.update", "user.update"]
    assert entries[1].changes["role"] == ["responder", "viewer"]
    assert entries[1].actor_user_id == _me(client, admin)["id"]


def test_one_active_admin_always_remains(client, session):
    admin = api_headers(session, "admin")
    me = _me(client, admin)["id"]
    demote = client.patch(f"{USERS}/{me}", json={"role": "responder"}, headers=admin)
    assert demote.status_code == 409 and "admin must remain" in demote.json()["error"]["message"]
    assert client.delete(f"{USERS}/{me}", headers=admin).status_code == 409
    other = _invite(client, admin, email="second-admin@example.com", role="admin")
    assert client.delete(f"{USERS}/{me}", headers=admin).json()["error"]["message"] == \
        "You cannot disable your own account"
    assert client.patch(f"{USERS}/{me}", json={"role": "responder"}, headers=admin).status_code == 200
    assert client.get(f"{USERS}/{other['id']}", headers=admin).json()["role"] == "admin"


def test_disable_ends_sessions_and_keys_at_once_and_enable_does_not_revive_them(client, session):
    admin = api_headers(session, "admin")
    user_headers = api_headers(session, "responder", email="leaver@example.com")
    leaver = session.exec(select(User).where(User.email == "leaver@example.com")).one()
    token = accounts.create_session(session, leaver, days=14)
    session.commit()
    assert client.get("/api/v1/me", headers=user_headers).status_code == 200

    assert client.delete(f"{USERS}/{leaver.id}", headers=admin).status_code == 204
    assert client.get("/api/v1/me", headers=user_headers).status_code == 401
    session.expire_all()
    assert accounts.principal_for_session(session, token) is None
    assert accounts.authenticate(session, leaver.email, "pw-long-enough") is None
    [entry] = rows(AuditLog, AuditLog.action == "user.disable")
    assert entry.changes["sessions_ended"] == 1 and entry.changes["api_keys_revoked"] == 1

    enabled = client.patch(f"{USERS}/{leaver.id}", json={"status": "active"}, headers=admin)
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert client.get("/api/v1/me", headers=user_headers).status_code == 401
    session.expire_all()
    assert accounts.principal_for_session(session, token) is None
    assert accounts.authenticate(session, leaver.email, "pw-long-enough") is not None
    assert [e.action for e in rows(AuditLog, AuditLog.entity_id == str(leaver.id), order_by=AuditLog.id)] == \
        ["user.disable", "user.enable"]


def test_admin_sets_a_password_and_the_users_sessions_end(client, session):
    admin = api_headers(session, "admin")
    invited = _invite(client, admin)
    user = session.get(User, invited["id"])
    assert accounts.authenticate(session, user.email, "the new password") is None
    response = client.patch(f"{USERS}/{user.id}", json={"password": "the new password"}, headers=admin)
    assert response.status_code == 200 and response.json()["can_sign_in"] is True
    session.expire_all()
    token = accounts.create_session(session, session.get(User, user.id), days=1)
    session.commit()
    client.patch(f"{USERS}/{user.id}", json={"password": "another password"}, headers=admin)
    session.expire_all()
    assert accounts.principal_for_session(session, token) is None
    entry = rows(AuditLog, AuditLog.action == "user.update", AuditLog.entity_id == str(user.id),
                 order_by=AuditLog.id)[-1]
    assert entry.changes["password"] == "***" and entry.changes["sessions_ended"] == 1


def test_contact_methods_and_rules_by_an_admin_or_the_user_themselves(client, session):
    admin = api_headers(session, "admin")
    ann = api_headers(session, "responder", email="ann@example.com")
    bob = api_headers(session, "responder", email="bob@example.com")
    viewer = api_headers(session, "viewer")
    ann_id = _me(client, ann)["id"]
    url = f"{USERS}/{ann_id}/contact-methods"

    by_admin = client.post(url, json={"kind": "sms", "address": "+1 415-555-2671", "label": "mobile"}, headers=admin)
    assert by_admin.status_code == 201 and by_admin.json()["address"] == "+14155552671"
    by_self = client.post(url, json={"kind": "email", "address": "Ann@Work.Example.com"}, headers=ann)
    assert by_self.status_code == 201 and by_self.json()["address"] == "ann@work.example.com"
    assert client.post(url, json={"kind": "email", "address": "x@example.com"}, headers=bob).status_code == 403
    assert client.post(url, json={"kind": "email", "address": "x@example.com"}, headers=viewer).status_code == 403
    assert [c["kind"] for c in client.get(url, headers=viewer).json()["data"]] == ["sms", "email"]

    sms_id = by_admin.json()["id"]
    rules = f"{USERS}/{ann_id}/notification-rules"
    rule = client.post(rules, json={"contact_method_id": sms_id, "delay_minutes": 5, "urgency": "high"}, headers=admin)
    assert rule.status_code == 201 and rule.json()["contact_method_kind"] == "sms"
    again = client.post(rules, json={"contact_method_id": sms_id, "delay_minutes": 5, "urgency": "high"}, headers=ann)
    assert again.status_code == 409
    bob_id = _me(client, bob)["id"]
    bob_cm = client.post(f"{USERS}/{bob_id}/contact-methods", json={"kind": "slack", "address": "U024BE7LH"},
                         headers=bob).json()
    foreign = client.post(rules, json={"contact_method_id": bob_cm["id"]}, headers=admin)
    assert foreign.status_code == 400 and foreign.json()["error"]["fields"][0].startswith("contact_method_id")
    changed = client.patch(f"{rules}/{rule.json()['id']}", json={"delay_minutes": 2}, headers=ann)
    assert changed.status_code == 200 and changed.json()["delay_minutes"] == 2
    assert client.patch(f"{url}/{sms_id}", json={"enabled": False}, headers=bob).status_code == 403
    assert client.patch(f"{url}/{sms_id}", json={"enabled": False}, headers=admin).json()["enabled"] is False
    assert client.delete(f"{url}/{sms_id}", headers=admin).status_code == 204
    assert client.get(rules, headers=viewer).json()["data"] == []  # the rule went with its contact method
    assert client.delete(f"{url}/{bob_cm['id']}", headers=admin).status_code == 404  # not Ann's
    actions = [e.action for e in rows(AuditLog, AuditLog.entity_type.in_(["contact_method", "notification_rule"]),
                                      order_by=AuditLog.id)]
    assert actions == ["contact_method.create", "contact_method.create", "notification_rule.create",
                       "contact_method.create", "notification_rule.update", "contact_method.update",
                       "contact_method.delete"]


def test_out_of_range_ids_are_not_server_errors(client, session):
    admin = api_headers(session, "admin")
    for path in (f"{USERS}/0", f"{USERS}/{2**31}", f"{USERS}/abc", f"{USERS}/1/contact-methods/{2**40}"):
        assert client.get(path, headers=admin).status_code == 400, path
    assert client.patch(f"{USERS}/1", json={"name": "x" * 500}, headers=admin).status_code == 400
    assert client.patch(f"{USERS}/1", json={"name": "nul\x00"}, headers=admin).status_code == 400
    assert client.get(USERS, params={"q": "a\x00"}, headers=admin).status_code == 400


def test_two_admins_demoting_each_other_at_once_leave_one_admin(client, session):
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from opsknight.api import create_api

    first, second = api_headers(session, "admin"), api_headers(session, "admin")
    ids = [_me(client, h)["id"] for h in (first, second)]
    clients = [TestClient(create_api()), TestClient(create_api())]

    def demote(i: int) -> int:
        return clients[i].patch(f"{USERS}/{ids[1 - i]}", json={"role": "responder"},
                                headers=(first, second)[i]).status_code

    for _ in range(3):  # both directions race; whoever wins, one admin remains
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(demote, range(2)))
        # The loser is refused: 409 when it waited on the winner's lock, 403 when it started after the winner
        # committed (its key's owner is no longer an admin).
        assert statuses[0] == 200 and statuses[1] in (403, 409)
        admins = [u for u in rows(User) if u.role == "admin"]
        assert len(admins) == 1
        session.expire_all()
        for uid in ids:  # put both back as admins for the next round
            session.get(User, uid).role = "admin"
        session.commit()
