"""load_spec reads a schedule's rows (PostgreSQL) into exactly the pure spec the math expects.

Rows are created directly, deliberately inserted out of order, so the test sees the store's own ordering.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlmodel import Session

from opsknight.engine import oncall
from opsknight.engine.schedule_store import load_spec, oncall_user_ids
from opsknight.models import Schedule, ScheduleLayer, ScheduleLayerMember, ScheduleOverride, User


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_users(db: Session, n: int) -> list[int]:
    users = [User(email=f"oncall-{i}@example.com", name=f"On-call {i}") for i in range(n)]
    db.add_all(users)
    db.commit()
    return [u.id for u in users]


def make_schedule(db: Session, name: str = "Primary", time_zone: str = "Europe/Berlin") -> Schedule:
    schedule = Schedule(name=name, time_zone=time_zone)
    db.add(schedule)
    db.commit()
    return schedule


def make_layer(db: Session, schedule: Schedule, user_ids: list[int], *, positions: list[int] | None = None,
               **fields) -> ScheduleLayer:
    fields.setdefault("rotation_start", utc("2026-01-05 08:00"))  # 09:00 in Berlin (CET)
    layer = ScheduleLayer(schedule_id=schedule.id, **fields)
    db.add(layer)
    db.flush()
    # Members are inserted in reverse so only ORDER BY position can put them right.
    for user_id, position in reversed(list(zip(user_ids, positions or range(len(user_ids)), strict=True))):
        db.add(ScheduleLayerMember(layer_id=layer.id, user_id=user_id, position=position))
    db.commit()
    return layer


def make_override(db: Session, schedule: Schedule, user_id: int, starts: str, ends: str,
                  replaces: int | None = None) -> ScheduleOverride:
    row = ScheduleOverride(schedule_id=schedule.id, user_id=user_id, starts_at=utc(starts), ends_at=utc(ends),
                           replaces_user_id=replaces)
    db.add(row)
    db.commit()
    return row


def test_missing_schedule_is_none(session):
    assert load_spec(session, 12345) is None


def test_builds_the_spec_from_rows(session):
    a, b, c, d = make_users(session, 4)
    schedule = make_schedule(session)
    other = make_schedule(session, "Other")
    night = make_layer(session, schedule, [c], name="Nights", position=1, rotation_unit="week",
                       rotation_start=utc("2026-01-04 21:00"), handoff_time="22:00", ends_at=utc("2026-06-01 00:00"),
                       restrictions=[{"weekdays": [4], "start": "22:00", "end": "06:00"},
                                     {"start": "12:00", "end": "13:00"}])
    base = make_layer(session, schedule, [a, b, a], positions=[5, 9, 7], name="Days", position=0,
                      rotation_unit="day", rotation_length=2)
    make_layer(session, other, [d], position=3)
    late = make_override(session, schedule, d, "2026-02-01 10:00", "2026-02-01 12:00", replaces=a)
    early = make_override(session, schedule, c, "2026-01-10 10:00", "2026-01-10 12:00")
    make_override(session, other, a, "2026-01-10 10:00", "2026-01-10 12:00")

    spec = load_spec(session, schedule.id)

    assert spec == oncall.ScheduleSpec(
        time_zone="Europe/Berlin",
        layers=(
            oncall.Layer(id=base.id, priority=0, rotation_start=utc("2026-01-05 08:00"), unit="day", length=2,
                         members=(a, a, b)),  # member positions 5, 7, 9
            oncall.Layer(id=night.id, priority=1, rotation_start=utc("2026-01-04 21:00"), unit="week", length=1,
                         members=(c,), ends_at=utc("2026-06-01 00:00"),
                         restrictions=(oncall.Restriction(frozenset({4}), time(22), time(6)),
                                       oncall.Restriction(None, time(12), time(13)))),
        ),
        overrides=(oncall.Override(c, early.starts_at, early.ends_at),
                   oncall.Override(d, late.starts_at, late.ends_at, replaces_user_id=a)),
    )
    assert all(layer.rotation_start.tzinfo is not None for layer in spec.layers)


def test_overrides_are_limited_to_the_range(session):
    (a,) = make_users(session, 1)
    schedule = make_schedule(session)
    make_override(session, schedule, a, "2026-01-01 00:00", "2026-01-02 00:00")  # ends exactly at the range start
    inside = make_override(session, schedule, a, "2026-01-01 12:00", "2026-01-02 00:01")
    make_override(session, schedule, a, "2026-01-03 00:00", "2026-01-04 00:00")  # starts exactly at the range end
    everything = make_override(session, schedule, a, "2025-12-01 00:00", "2026-02-01 00:00")

    def starts(**kw):
        return [o.start for o in load_spec(session, schedule.id, **kw).overrides]

    assert starts(start=utc("2026-01-02 00:00"), end=utc("2026-01-03 00:00")) == [everything.starts_at,
                                                                                  inside.starts_at]
    assert len(starts()) == 4
    assert len(starts(start=utc("2026-01-02 00:00"))) == 3
    assert len(starts(end=utc("2026-01-01 00:00"))) == 1


def test_equal_positions_newer_layer_wins(session):
    a, b = make_users(session, 2)
    schedule = make_schedule(session)
    older = make_layer(session, schedule, [a], position=2)
    newer = make_layer(session, schedule, [b], position=2)
    spec = load_spec(session, schedule.id)
    assert [layer.id for layer in spec.layers] == [older.id, newer.id]
    assert oncall.on_call_at(spec, utc("2026-01-06 00:00")) == (b,)


def test_layer_without_members_and_schedule_without_layers(session):
    schedule = make_schedule(session)
    assert load_spec(session, schedule.id) == oncall.ScheduleSpec("Europe/Berlin", (), ())
    layer = make_layer(session, schedule, [])
    assert load_spec(session, schedule.id).layers[0].members == ()
    assert oncall_user_ids(session, schedule.id, utc("2026-01-06 00:00")) == ()
    assert layer.id == load_spec(session, schedule.id).layers[0].id


def test_malformed_restriction_names_the_layer(session):
    (a,) = make_users(session, 1)
    schedule = make_schedule(session)
    layer = make_layer(session, schedule, [a], name="Broken", restrictions=[{"start": "9am", "end": "17:00"}])
    with pytest.raises(ValueError, match=rf"schedule layer {layer.id} \('Broken'\) has an invalid restriction"):
        load_spec(session, schedule.id)


def test_handoff_time_disagreeing_with_rotation_start_is_logged_and_rotation_start_wins(session, caplog):
    a, b = make_users(session, 2)
    schedule = make_schedule(session)
    # 08:00 UTC is 09:00 in Berlin in January; handoff_time claims 10:00.
    make_layer(session, schedule, [a, b], rotation_unit="day", handoff_time="10:00")
    with caplog.at_level(logging.WARNING, logger="opsknight.engine.schedule_store"):
        spec = load_spec(session, schedule.id)
    assert "disagrees with rotation_start" in caplog.text
    assert oncall.on_call_at(spec, utc("2026-01-06 08:30")) == (b,)  # 09:30 Berlin: handed off at 09:00


def test_oncall_user_ids_end_to_end(session):
    a, b, c, d = make_users(session, 4)
    schedule = make_schedule(session, time_zone="America/New_York")
    # Daily at 09:00 New York (14:00 UTC in winter); c replaces b on 2026-01-06 from 15:00 to 16:00 UTC.
    make_layer(session, schedule, [a, b], rotation_unit="day", rotation_start=utc("2026-01-05 14:00"),
               handoff_time="09:00")
    make_override(session, schedule, c, "2026-01-06 15:00", "2026-01-06 16:00", replaces=b)
    make_override(session, schedule, d, "2026-01-06 15:30", "2026-01-06 15:45", replaces=a)  # a is not on: no effect
    cases = [("2026-01-05 13:59", ()), ("2026-01-05 14:00", (a,)), ("2026-01-06 14:00", (b,)),
             ("2026-01-06 15:00", (c,)), ("2026-01-06 15:40", (c,)), ("2026-01-06 16:00", (b,)),
             ("2026-01-07 14:00", (a,))]
    assert [(at, oncall_user_ids(session, schedule.id, utc(at))) for at, _ in cases] == cases
    # Overrides are filtered by the range: one in effect at exactly `at` must still be read.
    assert oncall_user_ids(session, schedule.id, utc("2026-01-06 16:00") - timedelta(microseconds=1)) == (c,)


def test_oncall_user_ids_refuses_missing_schedule_and_naive_time(session):
    with pytest.raises(LookupError, match="schedule 999 does not exist"):
        oncall_user_ids(session, 999, utc("2026-01-06 00:00"))
    with pytest.raises(ValueError, match="timezone-aware"):
        oncall_user_ids(session, 999, datetime(2026, 1, 6))
