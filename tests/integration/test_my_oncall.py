""""My on call" on PostgreSQL: am I on call now and until when, my shifts for 14 days (equal to what
/api/v1/schedules/{id}/final says, across the New York spring-forward of 2026-03-08), everyone's on call, the
policies that page me (checked against dispatch.resolve_targets, the code paging runs), the brief, and taking and
giving shifts away (a responder may not put someone else on call; an admin may)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from opsknight import accounts
from opsknight.admin import Conflict, Forbidden, Invalid, my_oncall, shift_swaps
from opsknight.engine import clock, dispatch, escalation, process
from opsknight.models import (
    AuditLog,
    EscalationPolicy,
    Incident,
    Role,
    ScheduleOverride,
    Team,
    TeamMembership,
    User,
)
from tests.factories import api_headers, make_policy, make_service
from tests.integration.conftest import count, rows

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)  # 07:00 in New York (EST), 13:00 in Berlin
BASE = "/api/v1/schedules"


def z(text: str) -> str:
    return text + ":00Z" if len(text) == 16 else text


def _user(session, name: str, role: str = Role.RESPONDER) -> User:
    user = accounts.create_user(session, email=f"{name.lower()}@example.com", name=name, role=role,
                                password="pw-long-enough")
    session.commit()
    return user


def _principal(user: User) -> accounts.Principal:
    return accounts.Principal(user_id=user.id, email=user.email, name=user.name, role=user.role)


def _schedule(client, admin, name: str, time_zone: str, unit: str, members: list[int]) -> int:
    layers = [{"name": "Rota", "rotation_unit": unit, "rotation_length": 1, "rotation_start": "2026-03-02",
               "handoff_time": "09:00", "members": members}] if members else []
    response = client.post(BASE, headers=admin, json={"name": name, "time_zone": time_zone, "layers": layers})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _incident(session, service, number: int, status: str = "triggered", snoozed_until: datetime | None = None):
    row = Incident(number=number, title=f"incident {number}", dedup_key=f"k{number}", service_id=service.id,
                   status=status, snoozed_until=snoozed_until, created_at=NOW - timedelta(minutes=number))
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def world(client, session) -> dict:
    """Ann (the responder reading the page), Bob and Cy (responders), and Dee (an admin who is on call too).

    * "NY primary" (America/New_York): daily at 09:00 local from 2026-03-02, Ann then Bob. Ann is on call now
      (her 2026-03-04 shift, until 09:00 EST = 14:00Z); her 03-08 shift spans no change, but Bob's 03-07 one spans
      the spring-forward: 23 hours.
    * "Berlin secondary" (Europe/Berlin): weekly at 09:00 from 2026-03-02, Cy then Ann; Bob stands in for Ann from
      03-10 08:00Z to 03-11 08:00Z (an override).
    * "Admin rota" (UTC): daily at 09:00, Dee then Bob.
    * Policies: via the NY schedule; Cy then Ann directly (step 2); Ann's team; Cy only; via the Berlin schedule.
    """
    clock.set_now(NOW)
    admin = api_headers(session, Role.ADMIN)
    ann, bob, cy = (_user(session, n) for n in ("Ann", "Bob", "Cy"))
    dee = _user(session, "Dee", Role.ADMIN)
    ny = _schedule(client, admin, "NY primary", "America/New_York", "day", [ann.id, bob.id])
    berlin = _schedule(client, admin, "Berlin secondary", "Europe/Berlin", "week", [cy.id, ann.id])
    rota = _schedule(client, admin, "Admin rota", "UTC", "day", [dee.id, bob.id])
    response = client.post(f"{BASE}/{berlin}/overrides", headers=admin, json={
        "user_id": bob.id, "replaces_user_id": ann.id, "start": "2026-03-10T08:00:00Z", "end": "2026-03-11T08:00:00Z"})
    assert response.status_code == 201, response.text
    team = Team(name="SRE")
    session.add(team)
    session.flush()
    session.add(TeamMembership(team_id=team.id, user_id=ann.id))
    session.commit()
    policies = {"ny": make_policy(session, steps=[[("schedule", ny)]]),
                "direct": make_policy(session, steps=[[("user", cy.id)], [("user", ann.id)]]),
                "team": make_policy(session, steps=[[("team", team.id)]]),
                "cy": make_policy(session, steps=[[("user", cy.id)]]),
                "berlin": make_policy(session, steps=[[("schedule", berlin)]])}
    services = {key: make_service(session, policy=policy) for key, policy in policies.items()}
    return {"admin": admin, "ann": ann, "bob": bob, "cy": cy, "dee": dee, "ny": ny, "berlin": berlin,
            "rota": rota, "policies": {k: p.id for k, p in policies.items()}, "services": services}


def _read(session, user: User) -> dict:
    return my_oncall.my_oncall(session, _principal(user), clock.now())


def _final(client, admin, schedule_id: int, start: str, end: str) -> list[dict]:
    response = client.get(f"{BASE}/{schedule_id}/final", headers=admin, params={"start": start, "end": end})
    assert response.status_code == 200, response.text
    return response.json()["blocks"]


def _shifts_of(data: dict, schedule_id: int) -> list[tuple[str, str]]:
    return [(s["start"], s["end"]) for s in data["shifts"] if s["schedule_id"] == schedule_id]


# --- reading --------------------------------------------------------------------------------------------------------


def test_now_and_until_when(session, world):
    data = _read(session, world["ann"])
    assert data["at"] == "2026-03-05T12:00:00Z" and data["horizon_end"] == "2026-03-19T12:00:00Z"
    assert data["now"]["on_call"] is True
    assert data["now"]["schedules"] == [{"id": world["ny"], "name": "NY primary", "until": "2026-03-05T14:00:00Z",
                                         "until_beyond_horizon": False}]


def test_shifts_equal_the_final_endpoint_across_dst(client, session, world):
    data = _read(session, world["ann"])
    ann = world["ann"].id
    for schedule_id in (world["ny"], world["berlin"], world["rota"]):
        final = _final(client, world["admin"], schedule_id, data["at"], data["horizon_end"])
        assert _shifts_of(data, schedule_id) == [(b["start"], b["end"]) for b in final if ann in b["user_ids"]]
    assert _shifts_of(data, world["ny"]) == [
        (z("2026-03-05T12:00"), z("2026-03-05T14:00")),  # now, until 09:00 EST
        (z("2026-03-06T14:00"), z("2026-03-07T14:00")),
        (z("2026-03-08T13:00"), z("2026-03-09T13:00")),  # 09:00 EDT: the handoff kept its local time
        (z("2026-03-10T13:00"), z("2026-03-11T13:00")), (z("2026-03-12T13:00"), z("2026-03-13T13:00")),
        (z("2026-03-14T13:00"), z("2026-03-15T13:00")), (z("2026-03-16T13:00"), z("2026-03-17T13:00")),
        (z("2026-03-18T13:00"), z("2026-03-19T12:00"))]  # clipped to the 14 days
    assert _shifts_of(data, world["berlin"]) == [  # Bob's override cuts Ann's week in two
        (z("2026-03-09T08:00"), z("2026-03-10T08:00")), (z("2026-03-11T08:00"), z("2026-03-16T08:00"))]
    assert _shifts_of(data, world["rota"]) == []
    starts = [s["start"] for s in data["shifts"]]
    assert starts == sorted(starts)
    assert [s["current"] for s in data["shifts"]].count(True) == 1
    assert data["shifts"][-1]["ends_beyond_horizon"] is True


def test_everyone_agrees_with_the_overview(client, session, world):
    data = _read(session, world["ann"])
    overview = client.get("/api/v1/oncall", headers=world["admin"], params={"at": data["at"]}).json()
    assert [(e["id"], e["user_ids"], e["next_change_at"], e["next_user_ids"]) for e in data["everyone"]] == \
        [(s["id"], s["user_ids"], s["next_change_at"], s["next_user_ids"]) for s in overview["schedules"]]
    ny = next(e for e in data["everyone"] if e["id"] == world["ny"])
    assert ny["user_ids"] == [world["ann"].id] and ny["next_change_at"] == "2026-03-05T14:00:00Z"
    assert ny["next_user_ids"] == [world["bob"].id]
    final = _final(client, world["admin"], world["ny"], data["at"], data["horizon_end"])
    assert [(b["start"], b["end"], b["user_ids"]) for b in ny["blocks"]] == \
        [(b["start"], b["end"], b["user_ids"]) for b in final]
    bob_dst_shift = next(b for b in ny["blocks"] if b["start"] == "2026-03-07T14:00:00Z")
    assert bob_dst_shift["end"] == "2026-03-08T13:00:00Z" and bob_dst_shift["user_ids"] == [world["bob"].id]
    names = {u["id"]: u["name"] for u in data["users"]}
    assert {names[world["ann"].id], names[world["bob"].id], names[world["cy"].id]} == {"Ann", "Bob", "Cy"}


def test_policies_paging_me_now_are_what_dispatch_would_page(session, world):
    data = _read(session, world["ann"])
    found = {(p["id"], s["step"]) for p in data["now"]["policies"] for s in p["steps"]}
    p = world["policies"]
    assert found == {(p["ny"], 1), (p["direct"], 2), (p["team"], 1)}  # not Cy's policy, not Berlin (Cy's week)
    paged = set()
    for policy in session.exec(select(EscalationPolicy)):
        snapshot = process.policy_snapshot(session, policy)
        for index in range(len(snapshot["steps"])):
            targets = escalation.step_targets(snapshot, escalation.Position(index, 0))
            if world["ann"].id in [u.id for u in dispatch.resolve_targets(session, targets, NOW)]:
                paged.add((policy.id, index + 1))
    assert found == paged
    via = {p["id"]: p["steps"][0]["via"] for p in data["now"]["policies"]}
    assert via[world["policies"]["team"]] == [{"type": "team", "id": via[world["policies"]["team"]][0]["id"],
                                               "name": "SRE"}]


def test_brief_for_the_current_shift(session, world):
    s = world["services"]
    reachable = _incident(session, s["ny"], 1)
    _incident(session, s["cy"], 2)  # Cy's policy never reaches Ann
    inside = _incident(session, s["direct"], 3, "acknowledged", NOW + timedelta(hours=1))  # ends before 14:00Z
    outside = _incident(session, s["team"], 4, "acknowledged", NOW + timedelta(hours=6))
    _incident(session, s["ny"], 5, "resolved")
    _incident(session, s["berlin"], 6)  # Berlin pages Ann only from 03-09: not during this shift
    brief = _read(session, world["ann"])["brief"]
    assert brief["shift"]["schedule_id"] == world["ny"] and brief["shift"]["current"] is True
    assert [i["id"] for i in brief["incidents"]] == [reachable.id, inside.id, outside.id]  # triggered first
    assert brief["open_count"] == 3
    assert [i["id"] for i in brief["expiring_snoozes"]] == [inside.id]
    snoozed = {i["id"]: i["snoozed"] for i in brief["incidents"]}
    assert snoozed == {reachable.id: False, inside.id: True, outside.id: True}


def test_brief_for_the_next_shift_when_not_on_call(session, world):
    clock.set_now(datetime(2026, 3, 7, 15, 0, tzinfo=UTC))  # Bob's 23-hour NY shift; Ann's next: 03-08 13:00Z
    s = world["services"]
    berlin = _incident(session, s["berlin"], 7)
    _incident(session, s["cy"], 8)
    inside = _incident(session, s["team"], 9, "acknowledged", datetime(2026, 3, 8, 20, 0, tzinfo=UTC))
    _incident(session, s["team"], 10, "acknowledged", datetime(2026, 3, 8, 12, 0, tzinfo=UTC))  # before it
    data = _read(session, world["ann"])
    assert data["now"]["schedules"] == []
    assert data["now"]["on_call"] is True  # the team and the direct step still page her
    assert {p["id"] for p in data["now"]["policies"]} == {world["policies"]["direct"], world["policies"]["team"]}
    brief = data["brief"]
    assert (brief["shift"]["start"], brief["shift"]["end"]) == ("2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z")
    # During that shift Ann is on call on NY, and from 03-09 08:00Z on Berlin too: its incident is hers to see.
    assert berlin.id in [i["id"] for i in brief["incidents"]]
    assert [i["id"] for i in brief["expiring_snoozes"]] == [inside.id]


def test_rest_twin_answers_the_same(client, session, world):
    key, _ = accounts.create_api_key(session, world["ann"], name="phone", scopes=("read",))
    session.commit()
    response = client.get("/api/v1/me/oncall", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.json() == _read(session, world["ann"])


# --- taking and giving shifts ---------------------------------------------------------------------------------------


def test_taking_a_colleagues_shift_creates_the_override_and_moves_it(client, session, world):
    ann, bob = world["ann"], world["bob"]
    result = shift_swaps.take_shift(session, _principal(ann), world["ny"], {
        "start": "2026-03-05T14:00:00Z", "end": "2026-03-06T14:00:00Z", "user_id": bob.id})
    session.commit()
    assert result["clipped"] is False
    [row] = rows(ScheduleOverride, ScheduleOverride.schedule_id == world["ny"])
    assert (row.schedule_id, row.user_id, row.replaces_user_id, row.created_by_id) == (world["ny"], ann.id, bob.id,
                                                                                      ann.id)
    assert count(AuditLog, AuditLog.action == "schedule.override.create", AuditLog.entity_id == str(row.id)) == 1
    data = _read(session, ann)
    # Her shift now, Bob's that she took and her own next one are one stretch: on call until 03-07 14:00Z.
    assert data["now"]["schedules"][0]["until"] == "2026-03-07T14:00:00Z"
    final = _final(client, world["admin"], world["ny"], data["at"], data["horizon_end"])
    assert final[0] == {"start": data["at"], "end": "2026-03-07T14:00:00Z", "user_ids": [ann.id], "gap": False}
    with pytest.raises(Conflict):  # taken already: that stretch is no longer Bob's
        shift_swaps.take_shift(session, _principal(world["cy"]), world["ny"], {
            "start": "2026-03-05T14:00:00Z", "end": "2026-03-06T14:00:00Z", "user_id": bob.id})
    session.rollback()
    assert count(ScheduleOverride, ScheduleOverride.schedule_id == world["ny"]) == 1


def test_taking_a_shift_under_way_starts_now_and_an_override_is_taken_whole(session, world):
    # Bob's stand-in week on Berlin comes from an override: a "replaces Bob" override could never apply there.
    clock.set_now(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    result = shift_swaps.take_shift(session, _principal(world["cy"]), world["berlin"], {
        "start": "2026-03-10T08:00:00Z", "end": "2026-03-11T08:00:00Z", "user_id": world["bob"].id})
    session.commit()
    assert result["start"] == "2026-03-10T09:00:00Z"  # from now, not from the past
    taken = rows(ScheduleOverride, ScheduleOverride.user_id == world["cy"].id)
    assert [(o.replaces_user_id, o.starts_at, o.ends_at) for o in taken] == [
        (None, datetime(2026, 3, 10, 9, tzinfo=UTC), datetime(2026, 3, 11, 8, tzinfo=UTC))]
    everyone = {e["id"]: e for e in _read(session, world["cy"])["everyone"]}
    assert everyone[world["berlin"]]["user_ids"] == [world["cy"].id]


def test_a_responders_take_is_clipped_to_the_self_override_limits(client, session, world):
    empty = _schedule(client, world["admin"], "Empty", "UTC", "day", [])
    ann = _principal(world["ann"])
    result = shift_swaps.take_shift(session, ann, empty, {"start": z("2026-04-20T12:00"), "end": z("2026-05-20T12:00")})
    session.commit()
    assert result["clipped"] is True and result["end"] == "2026-05-06T12:00:00Z"  # NOW + 62 days
    with pytest.raises(Invalid, match="within the next 62 days"):
        shift_swaps.take_shift(session, ann, empty, {"start": z("2026-05-07T00:00"), "end": z("2026-05-08T00:00")})
    with pytest.raises(Invalid, match="already over"):
        shift_swaps.take_shift(session, ann, empty, {"start": z("2026-03-01T00:00"), "end": z("2026-03-02T00:00")})
    with pytest.raises(Invalid, match="start"):
        shift_swaps.take_shift(session, ann, empty, {"start": "2026-03-20T00:00:00", "end": z("2026-03-21T00:00")})
    with pytest.raises(Invalid, match="already your shift"):
        shift_swaps.take_shift(session, ann, world["ny"], {"start": z("2026-03-06T14:00"), "end": z("2026-03-07T14:00"),
                                                           "user_id": world["ann"].id})
    session.rollback()
    assert count(ScheduleOverride, ScheduleOverride.schedule_id == empty) == 1


def test_a_viewer_cannot_take_a_shift(session, world):
    viewer = _user(session, "Vera", Role.VIEWER)
    with pytest.raises(Forbidden):
        shift_swaps.take_shift(session, _principal(viewer), world["ny"], {
            "start": z("2026-03-05T14:00"), "end": z("2026-03-06T14:00"), "user_id": world["bob"].id})


def test_a_responder_cannot_give_a_shift_away(session, world):
    before = (count(ScheduleOverride), count(AuditLog))
    data = _read(session, world["ann"])
    assert data["can_give_away"] is False and "ask a colleague" in data["give_away_reason"]
    assert data["give_to"][str(world["ny"])] == [{"id": world["bob"].id, "name": "Bob"}]
    with pytest.raises(Forbidden):
        shift_swaps.give_shift(session, _principal(world["ann"]), world["ny"], {
            "start": z("2026-03-08T13:00"), "end": z("2026-03-09T13:00"), "to_user_id": world["bob"].id})
    session.rollback()
    assert (count(ScheduleOverride), count(AuditLog)) == before
    assert _shifts_of(_read(session, world["ann"]), world["ny"])[2] == (z("2026-03-08T13:00"), z("2026-03-09T13:00"))


def test_an_admin_gives_their_shift_to_a_colleague(client, session, world):
    dee, bob = world["dee"], world["bob"]
    data = _read(session, dee)
    assert data["can_give_away"] is True and data["give_away_reason"] == ""
    shift = _shifts_of(data, world["rota"])[1]  # 03-08 09:00Z to 03-09 09:00Z
    with pytest.raises(Invalid, match="rotations"):  # Cy is not in the Admin rota
        shift_swaps.give_shift(session, _principal(dee), world["rota"], {
            "start": shift[0], "end": shift[1], "to_user_id": world["cy"].id})
    result = shift_swaps.give_shift(session, _principal(dee), world["rota"], {
        "start": shift[0], "end": shift[1], "to_user_id": bob.id})
    session.commit()
    [row] = rows(ScheduleOverride, ScheduleOverride.schedule_id == world["rota"])
    assert (row.user_id, row.replaces_user_id, result["start"], result["end"]) == (bob.id, dee.id, *shift)
    assert count(AuditLog, AuditLog.action == "schedule.override.create", AuditLog.actor_user_id == dee.id) == 1
    assert shift not in _shifts_of(_read(session, dee), world["rota"])
    final = _final(client, world["admin"], world["rota"], shift[0], shift[1])
    assert [b["user_ids"] for b in final] == [[bob.id]]
