"""The schedules API and iCal feeds, end to end over HTTP against PostgreSQL.

Answers are checked against the pure math (``oncall.on_call_at`` / ``final_blocks`` / ``layer_blocks``) on the
spec the store loads, plus hand-written expectations around Berlin's 2026 spring-forward (Sunday 2026-03-29,
01:00 UTC) and an override.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from sqlmodel import Session

from opsknight import accounts, security
from opsknight.engine import clock, ical, oncall
from opsknight.engine.schedule_store import load_spec
from opsknight.models import (
    ApiKey,
    Role,
    Schedule,
    ScheduleLayer,
    ScheduleLayerMember,
    ScheduleOverride,
    User,
    UserStatus,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class World:
    alice: User
    bob: User
    carol: User
    viewer: User
    key: str
    key_row: ApiKey
    schedule: Schedule
    layer: ScheduleLayer

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def world(session: Session) -> World:
    alice, bob, carol = (User(email=f"{n.lower()}@example.com", name=f"{n} Example") for n in ("Alice", "Bob", "Carol"))
    session.add_all([alice, bob, carol])
    viewer = accounts.create_user(session, email="viewer@example.com", name="Viewer", role=Role.VIEWER)
    key, key_row = accounts.create_api_key(session, viewer, name="read only", scopes=("read",))
    schedule = Schedule(name="Primary", time_zone="Europe/Berlin")
    session.add(schedule)
    session.flush()
    # Weekly, Mondays 09:00 Berlin: Alice from 2026-03-16 (CET, 08:00 UTC), Bob from 03-23, Alice from 03-30 (CEST).
    layer = ScheduleLayer(schedule_id=schedule.id, name="Weekly", position=0, rotation_unit="week",
                          rotation_length=1, rotation_start=utc("2026-03-16 08:00"), handoff_time="09:00")
    session.add(layer)
    session.flush()
    session.add_all([ScheduleLayerMember(layer_id=layer.id, user_id=alice.id, position=0),
                     ScheduleLayerMember(layer_id=layer.id, user_id=bob.id, position=1)])
    session.add(ScheduleOverride(schedule_id=schedule.id, user_id=carol.id, starts_at=utc("2026-03-25 10:00"),
                                 ends_at=utc("2026-03-25 14:00")))
    session.commit()
    return World(alice, bob, carol, viewer, key, key_row, schedule, layer)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


# --- who is on call ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("at, expected", [
    ("2026-03-01T12:00:00Z", None),  # before the rotation starts: a gap
    ("2026-03-20T12:00:00Z", "alice"),
    ("2026-03-23T07:59:59Z", "alice"),  # 08:59:59 CET
    ("2026-03-23T08:00:00Z", "bob"),  # 09:00 CET handoff
    ("2026-03-25T09:59:59Z", "bob"),
    ("2026-03-25T10:00:00Z", "carol"),  # the override
    ("2026-03-25T13:30:00+02:00", "carol"),  # 11:30 UTC, given with an offset
    ("2026-03-25T14:00:00Z", "bob"),  # the override ends (half-open)
    ("2026-03-29T00:59:59Z", "bob"),  # just before the clocks jump 02:00 -> 03:00
    ("2026-03-29T01:00:00Z", "bob"),
    ("2026-03-30T06:59:59Z", "bob"),  # 08:59:59 CEST
    ("2026-03-30T09:00:00+02:00", "alice"),  # the handoff stays at 09:00 local: 07:00 UTC after the change
    ("2026-03-30T07:30:00Z", "alice"),
    ("2026-04-06T07:00:00Z", "bob"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_oncall_at_instants(client, session, world, at, expected):
    response = client.get(f"/api/v1/schedules/{world.schedule.id}/oncall", params={"at": at}, headers=world.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    instant = datetime.fromisoformat(at.replace("Z", "+00:00"))
    spec = load_spec(session, world.schedule.id)
    assert body["schedule_id"] == world.schedule.id
    assert parse(body["at"]) == instant and body["at"].endswith("Z")
    assert tuple(body["user_ids"]) == oncall.on_call_at(spec, instant)
    if expected is None:
        assert body == {**body, "user_ids": [], "users": [], "gap": True}
    else:
        user = getattr(world, expected)
        assert body["user_ids"] == [user.id] and body["gap"] is False
        assert body["users"] == [{"id": user.id, "name": user.name, "email": user.email}]


def test_oncall_defaults_to_now_and_accepts_an_unencoded_plus(client, world):
    clock.set_now(utc("2026-03-25 11:00"))
    body = client.get(f"/api/v1/schedules/{world.schedule.id}/oncall", headers=world.auth).json()
    assert body["at"] == "2026-03-25T11:00:00Z" and body["user_ids"] == [world.carol.id]
    # '+' left unencoded in a query string arrives as a space; it still means the offset.
    raw = client.get(f"/api/v1/schedules/{world.schedule.id}/oncall?at=2026-03-30T09:00:00+02:00", headers=world.auth)
    assert raw.status_code == 200 and raw.json()["at"] == "2026-03-30T07:00:00Z"
    assert raw.json()["user_ids"] == [world.alice.id]


# --- the final schedule --------------------------------------------------------------------------------------------


def test_final_matches_the_math_exactly(client, session, world):
    start, end = "2026-03-20T00:00:00Z", "2026-04-10T00:00:00+02:00"
    response = client.get(f"/api/v1/schedules/{world.schedule.id}/final", params={"start": start, "end": end},
                          headers=world.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    lo, hi = parse(start), parse(end)
    spec = load_spec(session, world.schedule.id)
    expected = [{"start": b.start, "end": b.end, "user_ids": list(b.user_ids), "gap": not b.user_ids}
                for b in oncall.final_blocks(spec, lo, hi)]
    assert [{**b, "start": parse(b["start"]), "end": parse(b["end"])} for b in body["blocks"]] == expected
    assert body["schedule_id"] == world.schedule.id and body["time_zone"] == "Europe/Berlin"
    assert (parse(body["start"]), parse(body["end"])) == (lo, hi) and body["end"] == "2026-04-09T22:00:00Z"
    assert "layers" not in body
    a, b, c = world.alice.id, world.bob.id, world.carol.id
    assert [(x["start"], x["end"], x["user_ids"]) for x in body["blocks"]] == [
        ("2026-03-20T00:00:00Z", "2026-03-23T08:00:00Z", [a]),
        ("2026-03-23T08:00:00Z", "2026-03-25T10:00:00Z", [b]),
        ("2026-03-25T10:00:00Z", "2026-03-25T14:00:00Z", [c]),
        ("2026-03-25T14:00:00Z", "2026-03-30T07:00:00Z", [b]),  # DST: 09:00 CEST is 07:00 UTC
        ("2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z", [a]),
        ("2026-04-06T07:00:00Z", "2026-04-09T22:00:00Z", [b]),
    ]


def test_final_with_layers_gaps_and_default_range(client, session, world):
    clock.set_now(utc("2026-03-10 12:00"))  # the rotation starts 2026-03-16 08:00 UTC: a gap first
    response = client.get(f"/api/v1/schedules/{world.schedule.id}/final", params={"layers": "true"},
                          headers=world.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["start"], body["end"]) == ("2026-03-10T12:00:00Z", "2026-03-17T12:00:00Z")
    assert body["blocks"] == [
        {"start": "2026-03-10T12:00:00Z", "end": "2026-03-16T08:00:00Z", "user_ids": [], "gap": True},
        {"start": "2026-03-16T08:00:00Z", "end": "2026-03-17T12:00:00Z", "user_ids": [world.alice.id], "gap": False},
    ]
    spec = load_spec(session, world.schedule.id)
    (layer,) = spec.layers
    assert body["layers"] == [{"id": world.layer.id, "name": "Weekly", "blocks": [
        {"start": b.start.isoformat().replace("+00:00", "Z"), "end": b.end.isoformat().replace("+00:00", "Z"),
         "user_ids": list(b.user_ids), "gap": not b.user_ids}
        for b in oncall.layer_blocks(spec, layer, utc("2026-03-10 12:00"), utc("2026-03-17 12:00"))]}]
    # Only `end` given: the week before it.
    body = client.get(f"/api/v1/schedules/{world.schedule.id}/final", params={"end": "2026-03-20T00:00:00Z"},
                      headers=world.auth).json()
    assert (body["start"], body["end"]) == ("2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z")
    # Exactly MAX_RANGE is allowed.
    ok = client.get(f"/api/v1/schedules/{world.schedule.id}/final",
                    params={"start": "2026-01-01T00:00:00Z", "end": "2027-01-02T00:00:00Z"}, headers=world.auth)
    assert ok.status_code == 200 and parse(ok.json()["end"]) - parse(ok.json()["start"]) == oncall.MAX_RANGE


# --- errors --------------------------------------------------------------------------------------------------------


def test_bad_times_and_ranges_are_400(client, world):
    sid = world.schedule.id
    naive = _error(client.get(f"/api/v1/schedules/{sid}/oncall", params={"at": "2026-03-20T12:00:00"},
                              headers=world.auth), 400, "naive_datetime")
    assert "offset" in naive["message"] and naive["fields"] == ["at: missing UTC offset"]
    _error(client.get(f"/api/v1/schedules/{sid}/final", params={"start": "2026-03-20", "end": "2026-03-21Z"},
                      headers=world.auth), 400, "naive_datetime")
    garbage = _error(client.get(f"/api/v1/schedules/{sid}/oncall", params={"at": "yesterday"}, headers=world.auth),
                     400, "invalid_datetime")
    assert garbage["fields"] == ["at: not an ISO 8601 date-time"]
    _error(client.get(f"/api/v1/schedules/{sid}/oncall", params={"at": "9999-12-31T23:59:59Z"}, headers=world.auth),
           400, "invalid_datetime")
    for start, end in (("2026-03-20T12:00:00Z", "2026-03-20T12:00:00Z"),
                       ("2026-03-20T14:00:00+02:00", "2026-03-20T12:00:00Z"),  # the same instant, spelt apart
                       ("2026-03-21T00:00:00Z", "2026-03-20T00:00:00Z")):
        _error(client.get(f"/api/v1/schedules/{sid}/final", params={"start": start, "end": end},
                          headers=world.auth), 400, "invalid_range")
    long = _error(client.get(f"/api/v1/schedules/{sid}/final",
                             params={"start": "2026-01-01T00:00:00Z", "end": "2027-01-02T00:00:01Z"},
                             headers=world.auth), 400, "range_too_long")
    assert "366 days" in long["message"]
    bad_flag = _error(client.get(f"/api/v1/schedules/{sid}/final", params={"layers": "maybe"}, headers=world.auth),
                      400, "invalid_request")
    assert bad_flag["fields"] and bad_flag["fields"][0].startswith("layers")


def test_unknown_schedule_is_404(client, world):
    for sid in (world.schedule.id + 100, 0, 2**40):
        for what in ("oncall", "final"):
            _error(client.get(f"/api/v1/schedules/{sid}/{what}", headers=world.auth), 404, "not_found")


def test_authentication_errors_have_the_error_shape(client, session, world):
    url = f"/api/v1/schedules/{world.schedule.id}/oncall"
    missing = client.get(url)
    assert _error(missing, 401, "unauthorized") and missing.headers["www-authenticate"] == "Bearer"
    _error(client.get(url, headers={"Authorization": f"Basic {world.key}"}), 401, "unauthorized")
    _error(client.get(url, headers={"Authorization": "Bearer okk_not-a-real-key"}), 401, "unauthorized")
    # Auth comes before parameter checks: an unauthenticated bad request is still a 401.
    _error(client.get(f"/api/v1/schedules/{world.schedule.id}/final", params={"layers": "maybe"}), 401,
           "unauthorized")

    write_only_key, _ = accounts.create_api_key(session, world.viewer, name="write only", scopes=("write",))
    session.commit()
    _error(client.get(url, headers={"Authorization": f"Bearer {write_only_key}"}), 403, "forbidden")

    assert client.get(url, headers=world.auth).status_code == 200
    world.key_row.revoked_at = clock.now()
    session.add(world.key_row)
    session.commit()
    _error(client.get(url, headers=world.auth), 401, "unauthorized")

    other_key, _ = accounts.create_api_key(session, world.viewer, name="second", scopes=("read",))
    session.commit()
    assert client.get(url, headers={"Authorization": f"Bearer {other_key}"}).status_code == 200
    world.viewer.status = UserStatus.DISABLED
    session.add(world.viewer)
    session.commit()
    _error(client.get(url, headers={"Authorization": f"Bearer {other_key}"}), 401, "unauthorized")


# --- iCal feeds ----------------------------------------------------------------------------------------------------


def _events(response) -> list[icalendar.Event]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(response.content)
    assert str(cal["VERSION"]) == "2.0" and cal["PRODID"]
    return list(cal.walk("VEVENT"))


def _span(event) -> tuple[datetime, datetime]:
    return event.decoded("DTSTART"), event.decoded("DTEND")


def test_schedule_feed(client, session, world):
    now = utc("2026-03-25 12:00")
    clock.set_now(now)
    token = ical.issue_ical_token(session, world.schedule)
    session.commit()
    assert token.startswith("okc_") and world.schedule.ical_token_digest == security.token_digest(token)

    response = client.get(f"/api/ical/schedules/{token}.ics")
    events = _events(response)
    assert client.head(f"/api/ical/schedules/{token}.ics").status_code == 200  # some calendar clients probe first
    a, b, c = (w.name for w in (world.alice, world.bob, world.carol))
    # The first shift (from 03-16) began before the window (03-18) and is shown whole; all in UTC.
    got = [(*_span(e), str(e["SUMMARY"])) for e in events]
    assert got[:6] == [
        (utc("2026-03-16 08:00"), utc("2026-03-23 08:00"), f"On call: {a}"),
        (utc("2026-03-23 08:00"), utc("2026-03-25 10:00"), f"On call: {b}"),
        (utc("2026-03-25 10:00"), utc("2026-03-25 14:00"), f"On call: {c}"),
        (utc("2026-03-25 14:00"), utc("2026-03-30 07:00"), f"On call: {b}"),
        (utc("2026-03-30 07:00"), utc("2026-04-06 07:00"), f"On call: {a}"),
        (utc("2026-04-06 07:00"), utc("2026-04-13 07:00"), f"On call: {b}"),
    ]
    assert b"DTSTART:20260316T080000Z" in response.content and b"DTEND:20260330T070000Z" in response.content
    # Exactly the final schedule's non-gap blocks overlapping [now - 7 days, now + 60 days).
    spec = load_spec(session, world.schedule.id)
    lo, hi = now - ical.PAST, now + ical.FUTURE
    expected = [(blk.start, blk.end) for blk in oncall.final_blocks(spec, lo - ical.MARGIN, hi + ical.MARGIN)
                if blk.user_ids and blk.start < hi and blk.end > lo]
    assert [_span(e) for e in events] == expected
    assert _span(events[-1])[0] < hi <= _span(events[-1])[1]
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)

    # A later fetch: the same blocks keep their UIDs.
    clock.set_now(now + timedelta(hours=5))
    later = {str(e["UID"]): _span(e) for e in _events(client.get(f"/api/ical/schedules/{token}.ics"))}
    assert all(later.get(uid) == _span(e) for uid, e in zip(uids, events, strict=True))

    # Re-issuing replaces the token: the old URL stops working.
    new_token = ical.issue_ical_token(session, world.schedule)
    session.commit()
    assert new_token != token
    _error(client.get(f"/api/ical/schedules/{token}.ics"), 404, "not_found")
    assert len(_events(client.get(f"/api/ical/schedules/{new_token}.ics"))) == len(later)
    for bad in ("okc_unknown", "nope", new_token + "x", security.token_digest(new_token)):
        _error(client.get(f"/api/ical/schedules/{bad}.ics"), 404, "not_found")
    _error(client.get(f"/api/ical/users/{new_token}.ics"), 404, "not_found")  # a schedule token is not a user's


def test_user_feed_spans_all_schedules(client, session, world):
    now = utc("2026-03-25 12:00")
    clock.set_now(now)
    nights = Schedule(name="Nights", time_zone="UTC")
    session.add(nights)
    session.flush()
    layer = ScheduleLayer(schedule_id=nights.id, name="Daily", rotation_unit="day", rotation_length=1,
                          rotation_start=utc("2026-03-20 20:00"), handoff_time="20:00",
                          ends_at=utc("2026-03-24 20:00"))
    session.add(layer)
    session.flush()
    session.add_all([ScheduleLayerMember(layer_id=layer.id, user_id=world.bob.id, position=0),
                     ScheduleLayerMember(layer_id=layer.id, user_id=world.carol.id, position=1)])
    session.commit()
    token = ical.issue_ical_token(session, world.bob)
    session.commit()
    assert token.startswith("okc_") and world.bob.ical_token_digest == security.token_digest(token)

    events = _events(client.get(f"/api/ical/users/{token}.ics"))
    got = sorted((*_span(e), str(e["SUMMARY"])) for e in events)
    assert got == [
        (utc("2026-03-20 20:00"), utc("2026-03-21 20:00"), "On call: Nights"),
        (utc("2026-03-22 20:00"), utc("2026-03-23 20:00"), "On call: Nights"),
        (utc("2026-03-23 08:00"), utc("2026-03-25 10:00"), "On call: Primary"),  # Carol's override cuts in
        (utc("2026-03-25 14:00"), utc("2026-03-30 07:00"), "On call: Primary"),
        *[(utc(s), utc(e), "On call: Primary") for s, e in (
            ("2026-04-06 07:00", "2026-04-13 07:00"), ("2026-04-20 07:00", "2026-04-27 07:00"),
            ("2026-05-04 07:00", "2026-05-11 07:00"), ("2026-05-18 07:00", "2026-05-25 07:00"))],
    ]
    assert len({str(e["UID"]) for e in events}) == len(events)

    # Carol only has the override and her Nights shifts; Alice's token is separate.
    carol_token = ical.issue_ical_token(session, world.carol)
    session.commit()
    carol = sorted(_span(e) for e in _events(client.get(f"/api/ical/users/{carol_token}.ics")))
    assert carol == [(utc("2026-03-21 20:00"), utc("2026-03-22 20:00")),
                     (utc("2026-03-23 20:00"), utc("2026-03-24 20:00")),
                     (utc("2026-03-25 10:00"), utc("2026-03-25 14:00"))]

    # Rotation: the old token stops working; a disabled user's feed is closed.
    new_token = ical.issue_ical_token(session, world.bob)
    session.commit()
    _error(client.get(f"/api/ical/users/{token}.ics"), 404, "not_found")
    assert _events(client.get(f"/api/ical/users/{new_token}.ics"))
    _error(client.get(f"/api/ical/schedules/{new_token}.ics"), 404, "not_found")
    world.bob.status = UserStatus.DISABLED
    session.add(world.bob)
    session.commit()
    _error(client.get(f"/api/ical/users/{new_token}.ics"), 404, "not_found")


def test_store_functions_directly(session, world):
    now = utc("2026-03-25 12:00")
    cal = icalendar.Calendar.from_ical(ical.schedule_calendar(session, world.schedule.id, now))
    assert len(list(cal.walk("VEVENT"))) > 5
    empty = icalendar.Calendar.from_ical(ical.user_calendar(session, world.viewer.id, now))
    assert list(empty.walk("VEVENT")) == []
    with pytest.raises(LookupError):
        ical.schedule_calendar(session, world.schedule.id + 100, now)
    with pytest.raises(LookupError):
        ical.user_calendar(session, world.viewer.id + 100, now)
    with pytest.raises(ValueError):
        ical.schedule_calendar(session, world.schedule.id, datetime(2026, 3, 25))
    assert ical.schedule_for_ical_token(session, "okc_x") is None and ical.user_for_ical_token(session, "") is None
