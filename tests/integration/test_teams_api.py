"""Teams and membership over the REST API against PostgreSQL: every route, refusals, permissions, audit."""

from __future__ import annotations

import pytest

from opsknight import accounts
from opsknight.models import AuditLog, Team, TeamMembership
from tests.factories import api_headers
from tests.integration.conftest import rows

URL = "/api/v1/teams"


@pytest.fixture
def admin(session) -> dict:
    return api_headers(session, "admin")


@pytest.fixture
def users(session) -> dict[str, int]:
    ids = {name: accounts.create_user(session, email=f"{name}@example.com", name=name.title()).id
           for name in ("ann", "bob")}
    session.commit()
    return ids


def create(client, admin, name: str, description: str = "") -> dict:
    response = client.post(URL, json={"name": name, "description": description}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_team_crud(client, admin):
    team = create(client, admin, "DBAs", "Databases")
    assert team["name"] == "DBAs" and team["members"] == [] and team["member_count"] == 0
    assert client.get(f"{URL}/{team['id']}", headers=admin).json() == team
    create(client, admin, "SRE")
    listed = client.get(URL, params={"limit": 1}, headers=admin).json()
    assert [t["name"] for t in listed["data"]] == ["DBAs"] and listed["next_cursor"] == team["id"]
    rest = client.get(URL, params={"cursor": listed["next_cursor"]}, headers=admin).json()
    assert [t["name"] for t in rest["data"]] == ["SRE"] and rest["next_cursor"] is None

    renamed = client.patch(f"{URL}/{team['id']}", json={"name": "Data"}, headers=admin)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Data"
    assert renamed.json()["description"] == "Databases"
    assert client.delete(f"{URL}/{team['id']}", headers=admin).status_code == 204
    assert client.get(f"{URL}/{team['id']}", headers=admin).status_code == 404
    assert [t.name for t in rows(Team)] == ["SRE"]


@pytest.mark.parametrize("payload, field", [
    ({"name": ""}, "name"), ({"name": "a\nb"}, "name"), ({"name": "x" * 101}, "name"),
    ({"name": "ok", "description": "x\x00"}, "description"), ({"name": "ok", "extra": 1}, "extra"), ({}, "name"),
])
def test_invalid_teams_are_refused_with_fields(client, admin, payload, field):
    response = client.post(URL, json=payload, headers=admin)
    assert response.status_code == 400, response.text
    assert any(f.startswith(f"{field}:") for f in response.json()["error"]["fields"])


def test_team_name_taken_is_a_conflict(client, admin):
    create(client, admin, "DBAs")
    sre = create(client, admin, "SRE")
    assert client.post(URL, json={"name": "DBAs"}, headers=admin).status_code == 409
    assert client.patch(f"{URL}/{sre['id']}", json={"name": "DBAs"}, headers=admin).status_code == 409


def test_membership_add_change_role_remove(client, admin, users):
    team = create(client, admin, "DBAs")
    members = f"{URL}/{team['id']}/members"
    added = client.post(members, json={"user_id": users["ann"]}, headers=admin)
    assert added.status_code == 201
    assert added.json() | {"since": None} == {"user_id": users["ann"], "name": "Ann", "email": "ann@example.com",
                                              "status": "active", "role": "member", "since": None}
    manager = client.post(members, json={"user_id": users["bob"], "role": "manager"}, headers=admin)
    assert manager.json()["role"] == "manager"

    again = client.post(members, json={"user_id": users["ann"]}, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["fields"] == ["user_id: already a member"]
    nobody = client.post(members, json={"user_id": 999_999}, headers=admin)
    assert nobody.status_code == 404 and nobody.json()["error"]["fields"] == ["user_id: no user 999999"]
    bad_role = client.post(members, json={"user_id": users["ann"], "role": "owner"}, headers=admin)
    assert bad_role.status_code == 400 and bad_role.json()["error"]["fields"][0].startswith("role:")

    promoted = client.patch(f"{members}/{users['ann']}", json={"role": "manager"}, headers=admin)
    assert promoted.status_code == 200 and promoted.json()["role"] == "manager"
    listed = client.get(members, headers=admin).json()["data"]
    assert [(m["name"], m["role"]) for m in listed] == [("Ann", "manager"), ("Bob", "manager")]
    assert client.get(f"{URL}/{team['id']}", headers=admin).json()["member_count"] == 2

    assert client.delete(f"{members}/{users['bob']}", headers=admin).status_code == 204
    assert client.delete(f"{members}/{users['bob']}", headers=admin).status_code == 404
    assert [m.user_id for m in rows(TeamMembership)] == [users["ann"]]
    assert client.get(f"{URL}/999999/members", headers=admin).status_code == 404


def test_deleting_a_team_an_escalation_step_pages_is_refused(client, admin, users):
    team = create(client, admin, "DBAs")
    policy = client.post("/api/v1/escalation-policies", headers=admin, json={
        "name": "Databases", "steps": [{"delay_minutes": 5, "targets": [{"type": "team", "id": team["id"]}]}]})
    assert policy.status_code == 201
    refused = client.delete(f"{URL}/{team['id']}", headers=admin)
    assert refused.status_code == 409 and "Databases" in refused.json()["error"]["message"]
    client.patch(f"/api/v1/escalation-policies/{policy.json()['id']}", headers=admin,
                 json={"steps": [{"delay_minutes": 5, "targets": [{"type": "user", "id": users["ann"]}]}]})
    assert client.delete(f"{URL}/{team['id']}", headers=admin).status_code == 204


@pytest.mark.parametrize("role, scopes", [("viewer", ("read", "write")), ("responder", ("read", "write")),
                                          ("admin", ("read",))])
def test_only_admin_keys_with_write_scope_change_teams(client, session, users, role, scopes):
    admin = api_headers(session, "admin")
    team = create(client, admin, "DBAs")
    client.post(f"{URL}/{team['id']}/members", json={"user_id": users["ann"]}, headers=admin)
    headers = api_headers(session, role, scopes=scopes)
    reads = [client.get(URL, headers=headers), client.get(f"{URL}/{team['id']}", headers=headers),
             client.get(f"{URL}/{team['id']}/members", headers=headers)]
    assert [r.status_code for r in reads] == [200] * 3
    writes = [client.post(URL, json={"name": "Mine"}, headers=headers),
              client.patch(f"{URL}/{team['id']}", json={"name": "Mine"}, headers=headers),
              client.delete(f"{URL}/{team['id']}", headers=headers),
              client.post(f"{URL}/{team['id']}/members", json={"user_id": users["bob"]}, headers=headers),
              client.patch(f"{URL}/{team['id']}/members/{users['ann']}", json={"role": "manager"}, headers=headers),
              client.delete(f"{URL}/{team['id']}/members/{users['ann']}", headers=headers)]
    assert [r.status_code for r in writes] == [403] * 6
    assert [t.name for t in rows(Team)] == ["DBAs"] and len(rows(TeamMembership)) == 1


def test_team_changes_are_audited(client, admin, users):
    team = create(client, admin, "DBAs")
    members = f"{URL}/{team['id']}/members"
    client.patch(f"{URL}/{team['id']}", json={"description": "Databases"}, headers=admin)
    client.post(members, json={"user_id": users["ann"]}, headers=admin)
    client.patch(f"{members}/{users['ann']}", json={"role": "manager"}, headers=admin)
    client.patch(f"{members}/{users['ann']}", json={"role": "manager"}, headers=admin)  # unchanged: no entry
    client.delete(f"{members}/{users['ann']}", headers=admin)
    client.delete(f"{URL}/{team['id']}", headers=admin)
    entries = rows(AuditLog, order_by=AuditLog.id)
    assert [(e.action, e.entity_type, e.entity_id) for e in entries] == [
        (action, "team", str(team["id"])) for action in
        ("team.create", "team.update", "team.member_add", "team.member_role", "team.member_remove", "team.delete")]
    assert entries[1].changes == {"description": ["", "Databases"]}
    assert entries[2].changes == {"user_id": users["ann"], "user": "ann@example.com", "role": "member"}
    assert entries[3].changes == {"user_id": users["ann"], "role": ["member", "manager"]}
    assert entries[5].changes["name"] == ["DBAs", None]
