"""Escalation policies over the REST API against PostgreSQL: every route, the refusals, permissions, the audit
trail, and that an edited policy is what the engine pages for new incidents (and not for one already paging)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session

from opsknight import accounts, db
from opsknight.admin import policies
from opsknight.engine import clock, process
from opsknight.models import AuditLog, EscalationPolicy, EscalationStep, Incident, OutboxJob, Schedule, Team
from tests.factories import api_headers, make_integration, make_service
from tests.integration.conftest import rows
from tests.integration.test_paging import person, tick, trigger, twilio  # noqa: F401 (twilio: a fixture)

URL = "/api/v1/escalation-policies"


@pytest.fixture
def admin(session) -> dict:
    return api_headers(session, "admin")


@pytest.fixture
def people(session) -> dict[str, int]:
    users = {name: accounts.create_user(session, email=f"{name}@example.com", name=name.title()).id
             for name in ("ann", "bob", "cat")}
    schedule, team = Schedule(name="primary"), Team(name="dbas")
    session.add_all([schedule, team])
    session.commit()
    return {**users, "schedule": schedule.id, "team": team.id}


def body(name: str, *steps: tuple[int, list[tuple[str, int]]], **extra) -> dict:
    return {"name": name, **extra,
            "steps": [{"delay_minutes": delay, "targets": [{"type": k, "id": i} for k, i in targets]}
                      for delay, targets in steps]}


def create(client, admin, payload: dict) -> dict:
    response = client.post(URL, json=payload, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_get_list_and_positions(client, admin, people):
    created = create(client, admin, body("Checkout", (5, [("user", people["ann"]), ("schedule", people["schedule"])]),
                                         (10, [("team", people["team"])]), repeat_count=2))
    assert created["name"] == "Checkout" and created["repeat_count"] == 2 and created["services"] == []
    assert [(s["position"], s["delay_minutes"]) for s in created["steps"]] == [(0, 5), (1, 10)]
    assert created["steps"][0]["targets"] == [{"type": "user", "id": people["ann"], "name": "Ann"},
                                             {"type": "schedule", "id": people["schedule"], "name": "primary"}]
    assert created["steps"][1]["targets"] == [{"type": "team", "id": people["team"], "name": "dbas"}]

    got = client.get(f"{URL}/{created['id']}", headers=admin)
    assert got.status_code == 200 and got.json() == created
    stored = rows(EscalationStep, EscalationStep.policy_id == created["id"], order_by=EscalationStep.position)
    assert [s.position for s in stored] == [0, 1]  # what engine.process.policy_snapshot reads, in that order

    listed = client.get(URL, headers=admin).json()
    assert listed["next_cursor"] is None
    assert [(p["name"], p["step_count"], p["services"]) for p in listed["data"]] == [("Checkout", 2, [])]


def test_list_pages_with_a_cursor(client, admin, people):
    for n in range(3):
        create(client, admin, body(f"p{n}", (0, [("user", people["ann"])])))
    first = client.get(URL, params={"limit": 2}, headers=admin).json()
    assert [p["name"] for p in first["data"]] == ["p0", "p1"] and first["next_cursor"]
    second = client.get(URL, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin).json()
    assert [p["name"] for p in second["data"]] == ["p2"] and second["next_cursor"] is None


@pytest.mark.parametrize("steps, field, message", [
    ([(-1, [("user", "ann")])], "steps.0.delay_minutes", "Step 1: the delay cannot be negative"),
    ([(5, [("user", "ann")]), (5, [])], "steps.1.targets", "Step 2 has no targets"),
    ([(5, [("user", 999_999)])], "steps.0.targets.0", "Step 1: user 999999 does not exist"),
    ([(5, [("team", 999_999)])], "steps.0.targets.0", "Step 1: team 999999 does not exist"),
    ([], "steps", "A policy needs at least one step"),
])
def test_invalid_steps_are_refused_naming_the_step(client, admin, people, steps, field, message):
    steps = [(d, [(k, people.get(i, i)) for k, i in targets]) for d, targets in steps]
    response = client.post(URL, json=body("Bad", *steps), headers=admin)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and message in error["message"]
    assert any(f.startswith(f"{field}: {message}") for f in error["fields"]), error["fields"]
    assert rows(EscalationPolicy) == []


@pytest.mark.parametrize("payload, field", [
    ({"name": "  ", "steps": []}, "name"),
    ({"name": "a\x00b", "steps": []}, "name"),
    ({"name": "x" * 101, "steps": []}, "name"),
    ({"name": "ok", "steps": [{"delay_minutes": 5, "targets": [{"type": "robot", "id": 1}]}]},
     "steps.0.targets.0.type"),
    ({"name": "ok", "steps": [{"delay_minutes": 10**12, "targets": []}]}, "steps.0.delay_minutes"),
    ({"name": "ok", "steps": [], "repeat_count": -1}, "repeat_count"),
    ({"name": "ok", "steps": [], "colour": "red"}, "colour"),
])
def test_malformed_bodies_are_400_with_fields(client, admin, payload, field):
    response = client.post(URL, json=payload, headers=admin)
    assert response.status_code == 400, response.text
    assert any(f.startswith(f"{field}:") for f in response.json()["error"]["fields"]), response.json()


def test_name_taken_is_a_conflict(client, admin, people):
    create(client, admin, body("Checkout", (5, [("user", people["ann"])])))
    other = create(client, admin, body("Search", (5, [("user", people["ann"])])))
    again = client.post(URL, json=body("Checkout", (5, [("user", people["ann"])])), headers=admin)
    assert again.status_code == 409 and again.json()["error"]["fields"] == ["name: already taken"]
    renamed = client.patch(f"{URL}/{other['id']}", json={"name": "Checkout"}, headers=admin)
    assert renamed.status_code == 409


def test_patch_changes_only_what_was_sent_and_replaces_steps(client, admin, people):
    policy = create(client, admin, body("Checkout", (5, [("user", people["ann"])]), (5, [("user", people["bob"])])))
    renamed = client.patch(f"{URL}/{policy['id']}", json={"name": "Checkout v2", "repeat_count": 1}, headers=admin)
    assert renamed.status_code == 200
    assert renamed.json()["steps"] == policy["steps"] and renamed.json()["repeat_count"] == 1

    replaced = client.patch(f"{URL}/{policy['id']}", json=body("Checkout v2", (0, [("user", people["cat"])]))
                            | {"name": None}, headers=admin).json()
    assert replaced["name"] == "Checkout v2"
    assert [(s["position"], s["delay_minutes"], [t["id"] for t in s["targets"]]) for s in replaced["steps"]] == \
        [(0, 0, [people["cat"]])]

    refused = client.patch(f"{URL}/{policy['id']}", json={"steps": [{"delay_minutes": 5, "targets": []}]},
                           headers=admin)
    assert refused.status_code == 400 and "Step 1 has no targets" in refused.json()["error"]["message"]
    assert client.get(f"{URL}/{policy['id']}", headers=admin).json()["steps"] == replaced["steps"]  # untouched


def test_reorder_moves_delays_and_targets_with_their_step(client, admin, people):
    policy = create(client, admin, body("Checkout", (1, [("user", people["ann"])]), (2, [("user", people["bob"])]),
                                        (3, [("team", people["team"])])))
    moved = client.post(f"{URL}/{policy['id']}/reorder", json={"order": [2, 0, 1]}, headers=admin)
    assert moved.status_code == 200
    assert [(s["position"], s["delay_minutes"], s["targets"][0]["name"]) for s in moved.json()["steps"]] == \
        [(0, 3, "dbas"), (1, 1, "Ann"), (2, 2, "Bob")]
    for order in ([0, 1], [0, 0, 1], [0, 1, 3]):
        bad = client.post(f"{URL}/{policy['id']}/reorder", json={"order": order}, headers=admin)
        assert bad.status_code == 400 and bad.json()["error"]["fields"][0].startswith("order:")


def test_delete_is_refused_while_a_service_uses_the_policy(client, admin, people, session):
    policy = create(client, admin, body("Checkout", (5, [("user", people["ann"])])))
    service = make_service(session, policy=session.get(EscalationPolicy, policy["id"]))
    got = client.get(f"{URL}/{policy['id']}", headers=admin).json()
    assert got["services"] == [{"id": service.id, "name": service.name}]
    assert client.get(URL, headers=admin).json()["data"][0]["services"] == got["services"]

    refused = client.delete(f"{URL}/{policy['id']}", headers=admin)
    assert refused.status_code == 409
    assert service.name in refused.json()["error"]["message"]
    assert refused.json()["error"]["fields"] == [f"services: {service.name}"]

    service.escalation_policy_id = None
    session.add(service)
    session.commit()
    assert client.delete(f"{URL}/{policy['id']}", headers=admin).status_code == 204
    assert client.get(f"{URL}/{policy['id']}", headers=admin).status_code == 404
    assert rows(EscalationStep) == []


@pytest.mark.parametrize("method, path", [("get", "/1"), ("patch", "/1"), ("delete", "/1"), ("post", "/1/reorder")])
def test_unknown_policy_is_404(client, admin, method, path):
    payload = {"order": []} if path.endswith("reorder") else {"name": "x"} if method == "patch" else None
    response = client.request(method, URL + path, json=payload, headers=admin)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_out_of_range_ids_are_400(client, admin):
    assert client.get(f"{URL}/{2**31}", headers=admin).status_code == 400
    assert client.get(URL, params={"cursor": 2**40}, headers=admin).status_code == 400


@pytest.mark.parametrize("role, scopes", [("viewer", ("read", "write")), ("responder", ("read", "write")),
                                          ("admin", ("read",))])
def test_only_admin_keys_with_write_scope_change_policies(client, session, people, role, scopes):
    admin = api_headers(session, "admin")
    policy = create(client, admin, body("Checkout", (5, [("user", people["ann"])])))
    headers = api_headers(session, role, scopes=scopes)
    assert client.get(URL, headers=headers).status_code == 200
    assert client.get(f"{URL}/{policy['id']}", headers=headers).status_code == 200
    writes = [client.post(URL, json=body("Other", (5, [("user", people["ann"])])), headers=headers),
              client.patch(f"{URL}/{policy['id']}", json={"name": "Mine"}, headers=headers),
              client.post(f"{URL}/{policy['id']}/reorder", json={"order": [0]}, headers=headers),
              client.delete(f"{URL}/{policy['id']}", headers=headers)]
    assert [r.status_code for r in writes] == [403] * 4
    assert all(r.json()["error"]["code"] == "forbidden" for r in writes)
    assert [p.name for p in rows(EscalationPolicy)] == ["Checkout"]


def test_no_key_is_401(client):
    response = client.get(URL)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_every_change_is_audited(client, admin, people):
    policy = create(client, admin, body("Checkout", (5, [("user", people["ann"])]), (5, [("user", people["bob"])])))
    client.patch(f"{URL}/{policy['id']}", json={"name": "Checkout v2"}, headers=admin)
    client.patch(f"{URL}/{policy['id']}", json={"name": "Checkout v2"}, headers=admin)  # no change: no entry
    client.post(f"{URL}/{policy['id']}/reorder", json={"order": [1, 0]}, headers=admin)
    client.delete(f"{URL}/{policy['id']}", headers=admin)
    entries = rows(AuditLog, order_by=AuditLog.id)
    assert [e.action for e in entries] == ["escalation_policy.create", "escalation_policy.update",
                                           "escalation_policy.reorder", "escalation_policy.delete"]
    assert {e.entity_type for e in entries} == {"escalation_policy"}
    assert {e.entity_id for e in entries} == {str(policy["id"])}
    assert entries[0].changes["name"] == [None, "Checkout"]
    assert entries[0].changes["steps"][1][0]["targets"] == [{"type": "user", "id": people["ann"]}]
    assert entries[1].changes == {"name": ["Checkout", "Checkout v2"]}
    ann, bob = [{"type": "user", "id": people["ann"]}], [{"type": "user", "id": people["bob"]}]
    assert [s["targets"] for s in entries[2].changes["steps"][1]] == [bob, ann]
    assert entries[3].changes["name"] == ["Checkout v2", None]
    admin_user = rows(AuditLog)[0].actor_user_id
    assert admin_user is not None and all(e.actor_user_id == admin_user for e in entries)
    assert all(e.actor_api_key_id is not None for e in entries)


def test_an_edited_policy_pages_its_new_targets_and_open_incidents_keep_theirs(client, twilio, session):  # noqa: F811
    clock.set_now(clock.now())
    ann, bob = person(session, "Ann", "+15551230001"), person(session, "Bob", "+15551230002")
    cat = person(session, "Cat", "+15551230003")
    admin = api_headers(session, "admin")
    policy = create(client, admin, body("Checkout", (5, [("user", ann)]), (5, [("user", bob)])))
    service = make_service(session, policy=session.get(EscalationPolicy, policy["id"]))
    token, _ = make_integration(session, service, "generic")

    trigger(client, token, summary="Old incident")
    assert [m.form["To"] for m in twilio.expect(1)] == ["+15551230001"]  # Ann, step 1

    edited = client.patch(f"{URL}/{policy['id']}", json=body("Checkout", (5, [("user", cat)]), (5, [("user", ann)]))
                          | {"name": None}, headers=admin)
    assert edited.status_code == 200

    trigger(client, token, summary="New incident", dedup_key="new")
    assert [m.form["To"] for m in twilio.expect(1)] == ["+15551230003"]  # Cat: the new step 1

    tick(timedelta(minutes=5, seconds=5))
    # The old incident goes on along the policy it started with (Bob); the new one along the edited one (Ann).
    assert sorted(m.form["To"] for m in twilio.expect(2)) == ["+15551230001", "+15551230002"]
    old, new = rows(Incident, order_by=Incident.id)
    assert old.escalation_step == 1 and new.escalation_step == 1
    assert old.escalation_policy_snapshot["steps"][1]["targets"] == [{"type": "user", "id": bob}]
    assert new.escalation_policy_snapshot["steps"][1]["targets"] == [{"type": "user", "id": ann}]


def test_an_incident_starting_while_a_policy_is_saved_gets_the_whole_new_policy(session, people):
    """The engine's snapshot read waits for a save in progress (FOR SHARE against the save's FOR UPDATE) rather
    than reading the old steps after the save deleted their targets."""
    admin = accounts.Principal(user_id=people["ann"], email="ann@example.com", name="Ann", role="admin")
    created = policies.create_policy(session, admin, body("Checkout", (5, [("user", people["ann"])])))
    service = make_service(session, policy=session.get(EscalationPolicy, created["id"]))
    incident = Incident(number=1, title="Down", dedup_key="down", service_id=service.id)
    session.add(incident)
    session.flush()
    job = OutboxJob(kind="process_incident", incident_id=incident.id, available_at=clock.now())
    session.add(job)
    session.commit()

    saving = Session(db.engine(), expire_on_commit=False)
    policies.update_policy(saving, admin, created["id"], {"steps": [{"delay_minutes": 7, "targets": [
        {"type": "user", "id": people["bob"]}, {"type": "team", "id": people["team"]}]}]})  # not committed yet

    def process_it() -> None:
        with db.session_scope() as worker:
            process.process_incident(worker, worker.get(OutboxJob, job.id))

    thread = threading.Thread(target=process_it)
    thread.start()
    thread.join(timeout=1)
    assert thread.is_alive()  # waiting for the save, not reading half of it
    saving.commit()
    saving.close()
    thread.join(timeout=10)
    (frozen,) = rows(Incident)
    assert frozen.escalation_policy_snapshot["steps"] == [{"delay_minutes": 7, "targets": [
        {"type": "team", "id": people["team"]}, {"type": "user", "id": people["bob"]}]}]
