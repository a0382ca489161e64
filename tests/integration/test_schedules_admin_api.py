"""Schedules admin REST API on PostgreSQL: CRUD, validation, atomic layer replacement, overrides and who may add
them, the preview (which must agree with /final once saved), /api/v1/oncall, and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from opsknight import accounts
from opsknight.engine import clock
from opsknight.models import (
    AuditLog,
    EscalationStepTarget,
    Role,
    ScheduleLayer,
    ScheduleLayerMember,
    ScheduleOverride,
    Team,
    TeamMembership,
    User,
    UserStatus,
)
from tests.factories import api_headers, make_policy
from tests.integration.conftest import count, rows

BASE = "/api/v1/schedules"


def _user(session, name: str, role: str = Role.RESPONDER, *, disabled: bool = False) -> User:
    user = accounts.create_user(session, email=f"{name.lower()}@example.com", name=name, role=role,
                                password="pw-long-enough")
    if disabled:
        user.status = UserStatus.DISABLED
        session.add(user)
    session.commit()
    return user


def _headers_for(session, user: User, scopes=("read", "write")) -> dict:
    key, _ = accounts.create_api_key(session, user, name="test", scopes=scopes)
    session.commit()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def admin(session) -> dict:
    return api_headers(session, Role.ADMIN)


@pytest.fixture
def people(session) -> dict[str, User]:
    return {name: _user(session, name) for name in ("Ada", "Bob", "Cy")}


def _layer(members, **fields) -> dict:
    return {"name": "Days", "priority": 0, "rotation_unit": "day", "rotation_length": 1,
            "rotation_start": "2026-03-02", "handoff_time": "09:00", "members": members, **fields}


def _create(client, headers, name="Primary", time_zone="Europe/Berlin", layers=(), **fields) -> dict:
    response = client.post(BASE, headers=headers, json={"name": name, "time_zone": time_zone,
                                                        "layers": list(layers), **fields})
    assert response.status_code == 201, response.text
    return response.json()


def _fields(response) -> list[str]:
    assert response.status_code == 400, response.text
    return response.json()["error"]["fields"]


# --- CRUD ----------------------------------------------------------------------------------------------------------


def test_create_read_list_and_round_trip(client, session, admin, people):
    ada, bob, cy = (people[n].id for n in ("Ada", "Bob", "Cy"))
    team = Team(name="Payments")
    session.add(team)
    session.commit()
    nights = {"name": "Nights", "priority": 5, "rotation_unit": "week", "rotation_length": 1,
              "rotation_start": "2026-03-01T21:00:00Z", "members": [cy],
              "restrictions": [{"weekdays": [4, 0, 4], "start": "22:00", "end": "06:00"}],
              "ends_at": "2026-06-01T00:00:00+02:00"}
    created = _create(client, admin, team_id=team.id, layers=[_layer([ada, bob, ada]), nights])

    assert created["team_name"] == "Payments" and created["time_zone"] == "Europe/Berlin"
    days, night = created["layers"]  # evaluation order: priority, then list order
    assert days["members"] == [ada, bob, ada] and days["priority"] == 0
    assert days["rotation_start"] == "2026-03-02T08:00:00Z" and days["handoff_time"] == "09:00"  # 09:00 CET
    assert night["handoff_time"] == "22:00" and night["ends_at"] == "2026-05-31T22:00:00Z"
    assert night["restrictions"] == [{"weekdays": [0, 4], "start": "22:00", "end": "06:00"}]
    assert [u["name"] for u in created["users"]] == ["Ada", "Bob", "Cy"]
    members = rows(ScheduleLayerMember, ScheduleLayerMember.layer_id == days["id"],
                   order_by=ScheduleLayerMember.position)
    assert [m.user_id for m in members] == [ada, bob, ada]

    assert client.get(f"{BASE}/{created['id']}", headers=admin).json() == created
    listed = client.get(BASE, headers=api_headers(session, Role.VIEWER)).json()
    assert [(s["name"], s["layer_count"]) for s in listed["data"]] == [("Primary", 2)]

    # A GET answer sent back unchanged is a valid PUT and changes nothing about who is on call.
    again = client.put(f"{BASE}/{created['id']}", headers=admin, json=created)
    assert again.status_code == 200, again.text
    strip = [{k: v for k, v in layer.items() if k != "id"} for layer in again.json()["layers"]]
    assert strip == [{k: v for k, v in layer.items() if k != "id"} for layer in created["layers"]]


def test_list_pages_with_a_cursor(client, session, admin):
    ids = [_create(client, admin, name=f"S{i}")["id"] for i in range(5)]
    first = client.get(f"{BASE}?limit=2", headers=admin).json()
    second = client.get(f"{BASE}?limit=2&cursor={first['next_cursor']}", headers=admin).json()
    third = client.get(f"{BASE}?limit=2&cursor={second['next_cursor']}", headers=admin).json()
    assert [s["id"] for s in first["data"] + second["data"] + third["data"]] == ids
    assert third["next_cursor"] is None


@pytest.mark.parametrize(("change", "field"), [
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"time_zone": ""}, "time_zone"),
    ({"name": "   "}, "name"),
    ({"team_id": 999}, "team_id"),
    ({"layers": [_layer([1], handoff_time="25:00")]}, "layers.0.handoff_time"),
    ({"layers": [_layer([1], handoff_time="9:00")]}, "layers.0.handoff_time"),
    ({"layers": [_layer([])]}, "layers.0.members"),
    ({"layers": [_layer([1], rotation_unit="month")]}, "layers.0.rotation_unit"),
    ({"layers": [_layer([1], rotation_length=0)]}, "layers.0.rotation_length"),
    ({"layers": [_layer([1], restrictions=[{"weekdays": [7], "start": "09:00", "end": "17:00"}])]},
     "layers.0.restrictions.0.weekdays.0"),
    ({"layers": [_layer([1], restrictions=[{"weekdays": [], "start": "09:00", "end": "17:00"}])]},
     "layers.0.restrictions.0.weekdays"),
    ({"layers": [_layer([1], restrictions=[{"start": "9am", "end": "17:00"}])]}, "layers.0.restrictions.0.start"),
    ({"layers": [_layer([1], restrictions=[{"start": "09:00"}])]}, "layers.0.restrictions.0.end"),
    ({"layers": [_layer([1], restrictions=[{"start": "09:00", "end": "17:00", "days": [1]}])]},
     "layers.0.restrictions.0.days"),
    ({"layers": [_layer([1], restrictions="weekdays")]}, "layers.0.restrictions"),
    ({"layers": [_layer([1], handoff_time=None)]}, "layers.0.handoff_time"),
    ({"layers": [_layer([1], rotation_start="2026-02-30")]}, "layers.0.rotation_start"),
    ({"layers": [_layer([1], rotation_start="2026-03-02T09:00:00")]}, "layers.0.rotation_start"),  # no offset
    ({"layers": [_layer([1], rotation_start="2026-03-02T09:00:00+01:00", handoff_time="10:00")]},
     "layers.0.handoff_time"),
    ({"layers": [_layer([1], rotation_start="2026-03-29", handoff_time="02:30")]},  # Berlin skips 02:00-03:00
     "layers.0.rotation_start"),
    ({"layers": [_layer([1], ends_at="2026-03-02T08:00:00Z")]}, "layers.0.ends_at"),
    ({"layers": [_layer([1], ends_at="2026-03-10T08:00:00")]}, "layers.0.ends_at"),
    ({"layers": [_layer([424242])]}, "layers.0.members.0"),
    ({"layers": [_layer([1], priorty=3)]}, "layers.0.priorty"),  # a typo is refused, never silently dropped
])
def test_invalid_definitions_are_400_naming_the_field(client, session, admin, change, field):
    ada = _user(session, "Ada")
    body = {"name": "Primary", "time_zone": "Europe/Berlin", **change}
    for layer in body.get("layers", []):  # member 1 in the table stands for Ada
        layer["members"] = [ada.id if m == 1 else m for m in layer["members"]]
    fields = _fields(client.post(BASE, headers=admin, json=body))
    assert any(f.startswith(f"{field}:") for f in fields), fields
    assert count(ScheduleLayer) == 0 and count(AuditLog) == 0


def test_disabled_member_is_refused(client, session, admin):
    gone = _user(session, "Gone", disabled=True)
    fields = _fields(client.post(BASE, headers=admin, json={"name": "P", "layers": [_layer([gone.id])]}))
    assert fields == [f"layers.0.members.0: Gone is disabled and cannot be paged; take them out of the rotation"]


def test_names_are_unique_ignoring_case(client, session, admin):
    _create(client, admin, name="Primary")
    response = client.post(BASE, headers=admin, json={"name": "PRIMARY"})
    assert response.status_code == 409 and response.json()["error"]["fields"] == ["name: 'PRIMARY' is taken"]
    other = _create(client, admin, name="Secondary")
    assert client.patch(f"{BASE}/{other['id']}", headers=admin, json={"name": "primary"}).status_code == 409


def test_replace_is_all_or_nothing(client, session, admin, people):
    ada, bob = people["Ada"].id, people["Bob"].id
    created = _create(client, admin, layers=[_layer([ada]), _layer([bob], name="Backup")])
    old_ids = [layer["id"] for layer in created["layers"]]

    bad = {"name": "Primary", "time_zone": "Europe/Berlin", "layers": [_layer([bob]), _layer([])]}
    assert client.put(f"{BASE}/{created['id']}", headers=admin, json=bad).status_code == 400
    assert [layer.id for layer in rows(ScheduleLayer, order_by=ScheduleLayer.id)] == old_ids

    good = {"name": "Primary", "time_zone": "Europe/Berlin", "layers": [_layer([bob, ada], rotation_unit="week")]}
    replaced = client.put(f"{BASE}/{created['id']}", headers=admin, json=good).json()
    assert [layer["members"] for layer in replaced["layers"]] == [[bob, ada]]
    assert not set(old_ids) & {layer.id for layer in rows(ScheduleLayer)}
    assert count(ScheduleLayerMember) == 2


def test_a_stale_updated_at_is_refused(client, session, admin, people):
    created = _create(client, admin, layers=[_layer([people["Ada"].id])])
    body = {**created, "layers": [_layer([people["Bob"].id])]}
    assert client.put(f"{BASE}/{created['id']}", headers=admin, json=body).status_code == 200
    stale = client.put(f"{BASE}/{created['id']}", headers=admin, json={**created, "name": "Renamed"})
    assert stale.status_code == 409 and stale.json()["error"]["fields"] == ["updated_at: out of date"]
    stale_patch = client.patch(f"{BASE}/{created['id']}", headers=admin,
                               json={"name": "Renamed", "updated_at": created["updated_at"]})
    assert stale_patch.status_code == 409


def test_patch_time_zone_keeps_local_handoffs(client, session, admin, people):
    created = _create(client, admin, layers=[_layer([people["Ada"].id, people["Bob"].id])])
    patched = client.patch(f"{BASE}/{created['id']}", headers=admin,
                           json={"time_zone": "America/New_York", "team_id": None})
    assert patched.status_code == 200, patched.text
    layer = patched.json()["layers"][0]
    assert layer["handoff_time"] == "09:00" and layer["rotation_start"] == "2026-03-02T14:00:00Z"  # 09:00 EST
    at = client.get(f"{BASE}/{created['id']}/final?start=2026-03-03T13:59:00Z&end=2026-03-03T14:01:00Z",
                    headers=admin).json()
    assert [b["start"] for b in at["blocks"]] == ["2026-03-03T13:59:00Z", "2026-03-03T14:00:00Z"]
    assert _fields(client.patch(f"{BASE}/{created['id']}", headers=admin, json={"name": None})) == \
        ["name: must not be null"]


def test_delete_is_refused_while_a_policy_pages_the_schedule(client, session, admin, people):
    created = _create(client, admin, layers=[_layer([people["Ada"].id])])
    client.post(f"{BASE}/{created['id']}/overrides", headers=admin,
                json={"user_id": people["Bob"].id, "start": "2026-03-05T00:00:00Z", "end": "2026-03-06T00:00:00Z"})
    policy = make_policy(session, steps=[[("user", people["Bob"].id)], [("schedule", created["id"])]])

    refused = client.delete(f"{BASE}/{created['id']}", headers=admin)
    assert refused.status_code == 409 and policy.name in refused.json()["error"]["message"]
    assert count(ScheduleLayer) == 1

    for target in session.exec(select(EscalationStepTarget).where(EscalationStepTarget.target_type == "schedule")):
        session.delete(target)
    session.commit()
    assert client.delete(f"{BASE}/{created['id']}", headers=admin).status_code == 204
    assert client.get(f"{BASE}/{created['id']}", headers=admin).status_code == 404
    assert count(ScheduleLayer) == count(ScheduleLayerMember) == count(ScheduleOverride) == 0


# --- overrides -----------------------------------------------------------------------------------------------------


def test_overrides_add_list_and_delete(client, session, admin, people):
    ada, bob, cy = (people[n].id for n in ("Ada", "Bob", "Cy"))
    created = _create(client, admin, layers=[_layer([ada, bob])])
    url = f"{BASE}/{created['id']}/overrides"

    whole = client.post(url, headers=admin, json={"user_id": cy, "start": "2026-03-05T10:00:00+01:00",
                                                  "end": "2026-03-05T18:00:00+01:00"})
    assert whole.status_code == 201, whole.text
    assert whole.json()["start"] == "2026-03-05T09:00:00Z" and whole.json()["user_name"] == "Cy"
    instead = client.post(url, headers=admin, json={"user_id": cy, "replaces_user_id": bob,
                                                    "start": "2026-03-10T00:00:00Z", "end": "2026-03-11T00:00:00Z"})
    assert instead.status_code == 201 and instead.json()["replaces_user_name"] == "Bob"

    listed = client.get(f"{url}?start=2026-03-01T00:00:00Z&end=2026-03-06T00:00:00Z", headers=admin).json()["data"]
    assert [o["id"] for o in listed] == [whole.json()["id"]]
    assert len(client.get(f"{url}?start=2026-03-01T00:00:00Z", headers=admin).json()["data"]) == 2
    on_call = client.get(f"{BASE}/{created['id']}/oncall?at=2026-03-05T12:00:00Z", headers=admin).json()
    assert on_call["user_ids"] == [cy]

    assert client.delete(f"{url}/{whole.json()['id']}", headers=admin).status_code == 204
    assert client.delete(f"{url}/{whole.json()['id']}", headers=admin).status_code == 404
    other = _create(client, admin, name="Other")
    assert client.delete(f"{BASE}/{other['id']}/overrides/{instead.json()['id']}", headers=admin).status_code == 404
    assert [o.id for o in rows(ScheduleOverride)] == [instead.json()["id"]]


@pytest.mark.parametrize(("change", "field"), [
    ({"end": "2026-03-05T10:00:00Z"}, "end"),  # end == start
    ({"end": "2026-03-05T09:00:00Z"}, "end"),
    ({"start": "2026-03-05T10:00:00"}, "start"),  # no offset
    ({"user_id": 424242}, "user_id"),
    ({"user": "gone"}, "user_id"),  # user_id missing (and 'user' unknown)
    ({"replaces_user_id": "self"}, "replaces_user_id"),
    ({"replaces_user_id": "cy"}, "replaces_user_id"),  # Cy is in no rotation of this schedule
])
def test_invalid_overrides_are_400(client, session, admin, people, change, field):
    ada, bob, cy = (people[n].id for n in ("Ada", "Bob", "Cy"))
    created = _create(client, admin, layers=[_layer([ada])])
    body = {"user_id": bob, "start": "2026-03-05T10:00:00Z", "end": "2026-03-05T12:00:00Z", **change}
    body["replaces_user_id"] = {"self": bob, "cy": cy}.get(body.get("replaces_user_id"), body.get("replaces_user_id"))
    if "user" in change:
        del body["user_id"]
    fields = _fields(client.post(f"{BASE}/{created['id']}/overrides", headers=admin, json=body))
    assert any(f.startswith(f"{field}:") for f in fields), fields
    assert count(ScheduleOverride) == 0


def test_disabled_user_cannot_take_an_override(client, session, admin, people):
    created = _create(client, admin, layers=[_layer([people["Ada"].id])])
    gone = _user(session, "Gone", disabled=True)
    fields = _fields(client.post(f"{BASE}/{created['id']}/overrides", headers=admin, json={
        "user_id": gone.id, "start": "2026-03-05T10:00:00Z", "end": "2026-03-05T12:00:00Z"}))
    assert fields == ["user_id: Gone is disabled and cannot be paged"]


# --- permissions ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "scopes"), [(Role.VIEWER, ("read", "write")), (Role.RESPONDER, ("read", "write")),
                                              (Role.ADMIN, ("read",))])
def test_only_admins_with_write_keys_change_schedules(client, session, admin, people, role, scopes):
    created = _create(client, admin, layers=[_layer([people["Ada"].id])])
    headers = api_headers(session, role, scopes=scopes)
    url = f"{BASE}/{created['id']}"
    assert client.get(url, headers=headers).status_code == 200
    assert client.get(BASE, headers=headers).status_code == 200
    for response in (client.post(BASE, headers=headers, json={"name": "New"}),
                     client.put(url, headers=headers, json=created),
                     client.patch(url, headers=headers, json={"name": "New"}),
                     client.delete(url, headers=headers)):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
    assert client.get(url, headers=admin).json()["name"] == "Primary"
    assert client.get(BASE).status_code == 401


def test_a_responder_takes_shifts_but_only_for_themselves(client, session, admin, people):
    ada, bob = people["Ada"], people["Bob"]
    created = _create(client, admin, layers=[_layer([ada.id, bob.id])])
    url = f"{BASE}/{created['id']}/overrides"
    shift = {"start": "2026-03-05T10:00:00Z", "end": "2026-03-05T12:00:00Z"}
    as_bob = _headers_for(session, bob)

    taken = client.post(url, headers=as_bob, json={"user_id": bob.id, "replaces_user_id": ada.id, **shift})
    assert taken.status_code == 201, taken.text
    assert taken.json()["created_by_id"] == bob.id
    for_ada = client.post(url, headers=as_bob, json={"user_id": ada.id, **shift})
    assert for_ada.status_code == 403 and for_ada.json()["error"]["code"] == "forbidden"

    admins_for_ada = client.post(url, headers=admin, json={"user_id": ada.id, **shift}).json()
    assert client.delete(f"{url}/{admins_for_ada['id']}", headers=as_bob).status_code == 403
    assert client.delete(f"{url}/{taken.json()['id']}", headers=as_bob).status_code == 204

    viewer = _user(session, "Vic", Role.VIEWER)
    assert client.post(url, headers=_headers_for(session, viewer), json={"user_id": viewer.id, **shift}) \
        .status_code == 403
    assert client.post(url, headers=_headers_for(session, bob, ("read",)), json={"user_id": bob.id, **shift}) \
        .status_code == 403
    assert [o.id for o in rows(ScheduleOverride)] == [admins_for_ada["id"]]


def test_a_responder_may_take_a_shift_of_at_most_31_days_an_admin_any(client, session, admin, people):
    ada, bob = people["Ada"], people["Bob"]
    created = _create(client, admin, layers=[_layer([ada.id, bob.id])])
    url = f"{BASE}/{created['id']}/overrides"
    as_bob = _headers_for(session, bob)
    month = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}  # exactly 31 days
    century = {"start": "2026-03-01T00:00:00Z", "end": "2126-03-01T00:00:00Z"}

    assert client.post(url, headers=as_bob, json={"user_id": bob.id, **month}).status_code == 201
    refused = client.post(url, headers=as_bob, json={"user_id": bob.id, "start": month["start"],
                                                     "end": "2026-04-01T00:00:01Z"})
    assert refused.status_code == 400, refused.text
    assert any("31 days" in f for f in refused.json()["error"]["fields"])
    assert client.post(url, headers=as_bob, json={"user_id": bob.id, **century}).status_code == 400
    assert client.post(url, headers=admin, json={"user_id": ada.id, **century}).status_code == 201
    # Nor a chain of short ones far ahead: a shift Bob takes must end within 62 days from now.
    start = clock.now() + timedelta(days=70)
    far = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    refused = client.post(url, headers=as_bob, json={"user_id": bob.id, **far})
    assert refused.status_code == 400 and any("62 days" in f for f in refused.json()["error"]["fields"])
    assert client.post(url, headers=admin, json={"user_id": ada.id, **far}).status_code == 201
    assert len(rows(ScheduleOverride)) == 3


# --- audit ---------------------------------------------------------------------------------------------------------


def test_every_change_is_audited(client, session, admin, people):
    ada, bob = people["Ada"].id, people["Bob"].id
    created = _create(client, admin, layers=[_layer([ada])])
    sid = created["id"]
    client.put(f"{BASE}/{sid}", headers=admin, json={**created, "layers": [_layer([ada, bob])]})
    client.patch(f"{BASE}/{sid}", headers=admin, json={"name": "Renamed"})
    override = client.post(f"{BASE}/{sid}/overrides", headers=admin, json={
        "user_id": bob, "start": "2026-03-05T10:00:00Z", "end": "2026-03-05T12:00:00Z"}).json()
    client.delete(f"{BASE}/{sid}/overrides/{override['id']}", headers=admin)
    client.delete(f"{BASE}/{sid}", headers=admin)

    log = rows(AuditLog, order_by=AuditLog.id)
    assert [(e.action, e.entity_type) for e in log] == [
        ("schedule.create", "schedule"), ("schedule.update", "schedule"), ("schedule.update", "schedule"),
        ("schedule.override.create", "schedule_override"), ("schedule.override.delete", "schedule_override"),
        ("schedule.delete", "schedule")]
    admin_id = session.exec(select(User.id).where(User.role == Role.ADMIN)).one()
    assert {e.actor_user_id for e in log} == {admin_id} and all(e.actor_api_key_id for e in log)
    assert log[0].changes["name"] == [None, "Primary"]
    assert [layer["members"] for layer in log[1].changes["layers"][1]] == [[ada, bob]]
    assert log[2].changes == {"name": ["Primary", "Renamed"]}
    assert log[3].changes["user_id"] == [None, bob] and log[4].changes["user_id"] == [bob, None]
    assert log[5].changes["name"] == ["Renamed", None]


# --- preview and /oncall -------------------------------------------------------------------------------------------


def test_preview_equals_final_once_saved(client, session, admin, people):
    """Two layers, a restriction crossing midnight, the DST change in Berlin (2026-03-29), an override."""
    ada, bob, cy = (people[n].id for n in ("Ada", "Bob", "Cy"))
    created = _create(client, admin, layers=[_layer([ada, bob])])
    override = client.post(f"{BASE}/{created['id']}/overrides", headers=admin, json={
        "user_id": cy, "replaces_user_id": bob, "start": "2026-03-23T00:00:00Z", "end": "2026-03-23T12:00:00Z"})
    assert override.status_code == 201, override.text
    definition = {"time_zone": "Europe/Berlin", "layers": [
        _layer([ada, bob, ada], rotation_unit="day", rotation_length=2, handoff_time="08:30",
               ends_at="2026-04-03T12:00:00Z"),  # then only the nights are covered: gaps
        {"name": "Nights", "priority": 2, "rotation_unit": "hour", "rotation_length": 36,
         "rotation_start": "2026-03-20", "handoff_time": "22:00", "members": [cy, bob],
         "restrictions": [{"weekdays": [0, 2, 4, 5], "start": "22:00", "end": "06:00"}]},
        {"name": "Same priority, later: wins", "priority": 2, "rotation_unit": "week",
         "rotation_start": "2026-04-01T00:00:00Z", "members": [bob], "ends_at": "2026-04-02T00:00:00Z"}]}
    window = {"start": "2026-03-22T00:00:00Z", "end": "2026-04-05T00:00:00Z"}

    preview = client.post(f"{BASE}/preview", headers=api_headers(session, Role.VIEWER),
                          json={**definition, **window, "schedule_id": created["id"]})
    assert preview.status_code == 200, preview.text
    saved = client.put(f"{BASE}/{created['id']}", headers=admin, json={"name": "Primary", **definition})
    assert saved.status_code == 200, saved.text
    final = client.get(f"{BASE}/{created['id']}/final", headers=admin,
                       params={**window, "layers": "true"}).json()

    body = preview.json()
    assert body["blocks"] == final["blocks"]
    assert [(layer["name"], layer["blocks"]) for layer in body["layers"]] == \
        [(layer["name"], layer["blocks"]) for layer in final["layers"]]
    assert any(b["gap"] for b in body["blocks"])
    assert {"start": "2026-03-23T00:00:00Z", "end": "2026-03-23T12:00:00Z", "user_ids": [cy], "gap": False} \
        in body["blocks"]  # the saved override, instead of Bob
    assert {u["name"] for u in body["users"]} == {"Ada", "Bob", "Cy"}
    assert count(AuditLog, AuditLog.action == "schedule.preview") == 0


@pytest.mark.parametrize(("window", "field"), [
    ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-02T00:00:00Z"}, "end"),
    ({"start": "2026-03-02T00:00:00Z", "end": "2026-05-04T00:00:00Z"}, "end"),  # 63 days
    ({"start": "2026-03-02T00:00:00", "end": "2026-03-03T00:00:00Z"}, "start"),
])
def test_preview_window_is_checked(client, session, admin, people, window, field):
    body = {"time_zone": "UTC", "layers": [_layer([people["Ada"].id])], **window}
    fields = _fields(client.post(f"{BASE}/preview", headers=admin, json=body))
    assert any(f.startswith(f"{field}:") for f in fields), fields


def test_oncall_now_everywhere(client, session, admin, people):
    ada, bob, cy = (people[n].id for n in ("Ada", "Bob", "Cy"))
    gone = _user(session, "Gone")
    primary = _create(client, admin, layers=[_layer([ada, bob])])  # daily 09:00 Berlin from 2026-03-02: Ada first
    empty = _create(client, admin, name="Empty")
    team = Team(name="Ops")
    session.add(team)
    session.flush()
    session.add_all([TeamMembership(team_id=team.id, user_id=cy), TeamMembership(team_id=team.id, user_id=gone.id)])
    gone.status = UserStatus.DISABLED
    session.add(gone)
    session.commit()
    policy = make_policy(session, steps=[[("schedule", primary["id"]), ("team", team.id), ("user", ada)],
                                         [("user", bob)]])
    make_policy(session)  # no steps at all

    clock.set_now(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))  # day 2 (from 09:00 Berlin = 08:00 UTC): Bob
    body = client.get("/api/v1/oncall", headers=api_headers(session, Role.VIEWER)).json()
    assert body["at"] == "2026-03-03T10:00:00Z"
    schedules = {s["name"]: s for s in body["schedules"]}
    assert schedules["Primary"]["user_ids"] == [bob] and schedules["Primary"]["next_user_ids"] == [ada]
    assert schedules["Primary"]["next_change_at"] == "2026-03-04T08:00:00Z"
    assert schedules["Empty"]["gap"] is True and schedules["Empty"]["next_change_at"] is None
    first = next(p for p in body["escalation_policies"] if p["id"] == policy.id)
    assert {(t["type"], tuple(t["user_ids"])) for t in first["targets"]} == {
        ("schedule", (bob,)), ("team", (cy, gone.id)), ("user", (ada,))}
    assert sorted(first["paged_user_ids"]) == sorted([bob, cy, ada])  # the disabled member is not paged
    assert {u["name"] for u in body["users"]} >= {"Ada", "Bob", "Cy", "Gone"}

    earlier = client.get("/api/v1/oncall?at=2026-03-02T08:30:00Z", headers=admin).json()
    assert next(s for s in earlier["schedules"] if s["id"] == primary["id"])["user_ids"] == [ada]
    assert next(s for s in earlier["schedules"] if s["id"] == empty["id"])["user_ids"] == []
    assert _fields(client.get("/api/v1/oncall?at=yesterday", headers=admin)) == ["at: not an ISO 8601 date-time"]
