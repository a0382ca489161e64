"""The audit log over the REST API: entries written by real admin changes, newest first, every filter, cursor
pages, admin-only access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsknight import accounts
from opsknight.engine import clock
from tests.factories import api_headers

URL = "/api/v1/audit"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def history(client, session) -> dict:
    """Two admins: Ann creates a team at T0 and a policy at T0+1h; Bob renames the team at T0+2h."""
    ann_user = accounts.create_user(session, email="ann@example.com", name="Ann", role="admin")
    ann_key, _ = accounts.create_api_key(session, ann_user, name="test")
    session.commit()
    ann, bob = {"Authorization": f"Bearer {ann_key}"}, api_headers(session, "admin", email="bob@example.com")
    clock.set_now(T0)
    team = client.post("/api/v1/teams", json={"name": "DBAs"}, headers=ann).json()
    clock.set_now(T0 + timedelta(hours=1))
    policy = client.post("/api/v1/escalation-policies", headers=ann, json={
        "name": "Databases", "steps": [{"delay_minutes": 5, "targets": [{"type": "team", "id": team["id"]}]}]}).json()
    clock.set_now(T0 + timedelta(hours=2))
    client.patch(f"/api/v1/teams/{team['id']}", json={"name": "Data"}, headers=bob)
    return {"ann": ann, "bob": bob, "ann_id": ann_user.id, "team": team["id"], "policy": policy["id"]}


def actions(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["action"] for e in response.json()["data"]]


def test_newest_first_with_actor_and_changes(client, history):
    response = client.get(URL, headers=history["ann"])
    assert actions(response) == ["team.update", "escalation_policy.create", "team.create"]
    newest, _, oldest = response.json()["data"]
    assert newest["actor"]["email"] == "bob@example.com" and newest["changes"] == {"name": ["DBAs", "Data"]}
    assert oldest["actor"] == {"user_id": history["ann_id"], "name": "Ann", "email": "ann@example.com",
                               "api_key_id": oldest["actor"]["api_key_id"]}
    assert oldest["actor"]["api_key_id"] is not None
    assert oldest["entity_type"] == "team" and oldest["entity_id"] == str(history["team"])
    assert datetime.fromisoformat(oldest["at"]) == T0


def test_filters(client, history):
    ann = history["ann"]
    assert actions(client.get(URL, params={"actor_user_id": history["ann_id"]}, headers=ann)) == \
        ["escalation_policy.create", "team.create"]
    assert actions(client.get(URL, params={"entity_type": "team"}, headers=ann)) == ["team.update", "team.create"]
    assert actions(client.get(URL, params={"entity_type": "escalation_policy", "entity_id": str(history["policy"])},
                              headers=ann)) == ["escalation_policy.create"]
    assert actions(client.get(URL, params={"action": "team.create"}, headers=ann)) == ["team.create"]
    window = {"since": (T0 + timedelta(minutes=30)).isoformat(), "until": (T0 + timedelta(hours=2)).isoformat()}
    assert actions(client.get(URL, params=window, headers=ann)) == ["escalation_policy.create"]
    assert actions(client.get(URL, params={"action": "nothing.like.this"}, headers=ann)) == []


def test_cursor_pages(client, history):
    first = client.get(URL, params={"limit": 2}, headers=history["ann"]).json()
    assert [e["action"] for e in first["data"]] == ["team.update", "escalation_policy.create"]
    rest = client.get(URL, params={"limit": 2, "cursor": first["next_cursor"]}, headers=history["ann"]).json()
    assert [e["action"] for e in rest["data"]] == ["team.create"] and rest["next_cursor"] is None


@pytest.mark.parametrize("params, field", [
    ({"since": "2026-03-01T12:00:00"}, "since"),  # no offset: which 12:00?
    ({"until": "yesterday"}, "until"),
    ({"action": "team.create' OR 1=1"}, "action"),
    ({"entity_type": "x" * 65}, "entity_type"),
    ({"limit": 0}, "limit"),
    ({"cursor": 2**31}, "cursor"),
    ({"actor_user_id": "ann"}, "actor_user_id"),
])
def test_bad_filters_are_400(client, history, params, field):
    response = client.get(URL, params=params, headers=history["ann"])
    assert response.status_code == 400
    assert any(f.startswith(f"{field}:") for f in response.json()["error"]["fields"]), response.json()


@pytest.mark.parametrize("role, scopes", [("viewer", ("read", "write")), ("responder", ("read", "write"))])
def test_only_admins_read_the_audit_log(client, session, role, scopes):
    response = client.get(URL, headers=api_headers(session, role, scopes=scopes))
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert client.get(URL).status_code == 401


def test_an_admins_read_only_key_reads_the_audit_log(client, session):
    assert client.get(URL, headers=api_headers(session, "admin", scopes=("read",))).status_code == 200
