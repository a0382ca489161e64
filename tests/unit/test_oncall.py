"""Schedule math, table by table. Every expected value below was worked out by hand from the zone's rules
(transition dates and offsets are in the comments), never by running the code under test.

Blocks are shown as ``(local start with offset, length in hours, user_ids)``: the offset makes the DST side of
every handoff visible, and the length shows the 23/25-hour (23.5/24.5 on Lord Howe) shifts.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from opsknight.engine.oncall import (
    MAX_RANGE,
    Block,
    Layer,
    Override,
    Restriction,
    ScheduleSpec,
    final_blocks,
    handoff_time_of,
    layer_blocks,
    next_handoffs,
    on_call_at,
    restriction_from_json,
)

HOUR = timedelta(hours=1)
WEEKDAYS = frozenset(range(5))


def T(zone: str, text: str) -> datetime:
    """Local wall-clock time in ``zone`` (first occurrence if ambiguous)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone))


def U(text: str) -> datetime:
    return T("UTC", text)


def layer(start: datetime, unit: str = "day", length: int = 1, members=(1, 2, 3), *, id: int = 1,
          priority: int = 0, **kw) -> Layer:
    return Layer(id=id, priority=priority, rotation_start=start, unit=unit, length=length, members=members, **kw)


def R(weekdays, start: str, end: str) -> Restriction:
    return Restriction(None if weekdays is None else frozenset(weekdays), time.fromisoformat(start),
                       time.fromisoformat(end))


def show(blocks: list[Block], zone: str) -> list[tuple[str, float, tuple[int, ...]]]:
    tz = ZoneInfo(zone)
    return [(b.start.astimezone(tz).strftime("%Y-%m-%d %H:%M%z"), (b.end - b.start) / HOUR, b.user_ids)
            for b in blocks]


# --- one layer: rotations, DST, odd offsets, leap days, lifetimes ------------------------------------------------

# (zone, layer kwargs (start is local in zone), range from, range to, expected blocks)
LAYER_CASES = [
    # Europe/Berlin: CET->CEST Sun 2026-03-29 02:00, CEST->CET Sun 2026-10-25 03:00.
    pytest.param("Europe/Berlin", dict(start="2026-03-27 09:00"), "2026-03-27 09:00", "2026-03-30 09:00",
                 [("2026-03-27 09:00+0100", 24, (1,)), ("2026-03-28 09:00+0100", 23, (2,)),
                  ("2026-03-29 09:00+0200", 24, (3,))], id="berlin-daily-spring-23h"),
    pytest.param("Europe/Berlin", dict(start="2026-10-24 09:00"), "2026-10-24 09:00", "2026-10-26 09:00",
                 [("2026-10-24 09:00+0200", 25, (1,)), ("2026-10-25 09:00+0100", 24, (2,))],
                 id="berlin-daily-fall-25h"),
    pytest.param("Europe/Berlin", dict(start="2026-03-23 09:00", unit="week", members=(1, 2)),
                 "2026-03-23 09:00", "2026-04-06 09:00",
                 [("2026-03-23 09:00+0100", 167, (1,)), ("2026-03-30 09:00+0200", 168, (2,))],
                 id="berlin-weekly-spring-167h"),
    # America/New_York: EST->EDT Sun 2026-03-08 02:00, EDT->EST Sun 2026-11-01 02:00.
    pytest.param("America/New_York", dict(start="2026-03-07 09:00"), "2026-03-07 09:00", "2026-03-09 09:00",
                 [("2026-03-07 09:00-0500", 23, (1,)), ("2026-03-08 09:00-0400", 24, (2,))],
                 id="new-york-daily-spring-23h"),
    pytest.param("America/New_York", dict(start="2026-10-31 09:00"), "2026-10-31 09:00", "2026-11-02 09:00",
                 [("2026-10-31 09:00-0400", 25, (1,)), ("2026-11-01 09:00-0500", 24, (2,))],
                 id="new-york-daily-fall-25h"),
    pytest.param("America/New_York", dict(start="2026-10-26 09:00", unit="week", length=2, members=(1, 2)),
                 "2026-10-26 09:00", "2026-11-23 09:00",
                 [("2026-10-26 09:00-0400", 337, (1,)), ("2026-11-09 09:00-0500", 336, (2,))],
                 id="new-york-two-weekly-fall-337h"),
    # Australia/Sydney (southern hemisphere): AEDT->AEST Sun 2026-04-05 03:00, AEST->AEDT Sun 2026-10-04 02:00.
    pytest.param("Australia/Sydney", dict(start="2026-04-04 09:00"), "2026-04-04 09:00", "2026-04-06 09:00",
                 [("2026-04-04 09:00+1100", 25, (1,)), ("2026-04-05 09:00+1000", 24, (2,))],
                 id="sydney-daily-april-25h"),
    pytest.param("Australia/Sydney", dict(start="2026-10-03 09:00"), "2026-10-03 09:00", "2026-10-05 09:00",
                 [("2026-10-03 09:00+1000", 23, (1,)), ("2026-10-04 09:00+1100", 24, (2,))],
                 id="sydney-daily-october-23h"),
    # Australia/Lord_Howe: +11 -> +10:30 Sun 2026-04-05 02:00 (to 01:30); back to +11 Sun 2026-10-04 02:00 (to 02:30).
    pytest.param("Australia/Lord_Howe", dict(start="2026-04-04 09:00"), "2026-04-04 09:00", "2026-04-06 09:00",
                 [("2026-04-04 09:00+1100", 24.5, (1,)), ("2026-04-05 09:00+1030", 24, (2,))],
                 id="lord-howe-daily-april-24.5h"),
    pytest.param("Australia/Lord_Howe", dict(start="2026-10-03 09:00"), "2026-10-03 09:00", "2026-10-05 09:00",
                 [("2026-10-03 09:00+1030", 23.5, (1,)), ("2026-10-04 09:00+1100", 24, (2,))],
                 id="lord-howe-daily-october-23.5h"),
    # Pacific/Chatham: +13:45 -> +12:45 Sun 2026-04-05 03:45; back Sun 2026-09-27 02:45 (to 03:45).
    pytest.param("Pacific/Chatham", dict(start="2026-04-04 09:00"), "2026-04-04 09:00", "2026-04-06 09:00",
                 [("2026-04-04 09:00+1345", 25, (1,)), ("2026-04-05 09:00+1245", 24, (2,))],
                 id="chatham-daily-april-25h"),
    pytest.param("Pacific/Chatham", dict(start="2026-09-26 09:00"), "2026-09-26 09:00", "2026-09-28 09:00",
                 [("2026-09-26 09:00+1245", 23, (1,)), ("2026-09-27 09:00+1345", 24, (2,))],
                 id="chatham-daily-september-23h"),
    pytest.param("Asia/Kolkata", dict(start="2026-01-05 09:00"), "2026-01-05 09:00", "2026-01-07 09:00",
                 [("2026-01-05 09:00+0530", 24, (1,)), ("2026-01-06 09:00+0530", 24, (2,))], id="kolkata-daily"),
    pytest.param("Asia/Kathmandu", dict(start="2026-01-05 09:00", unit="week", members=(4, 5)),
                 "2026-01-05 09:00", "2026-01-19 09:00",
                 [("2026-01-05 09:00+0545", 168, (4,)), ("2026-01-12 09:00+0545", 168, (5,))], id="kathmandu-weekly"),
    # Hourly rotations are elapsed time: exactly N real hours, so the local handoff time moves with DST.
    pytest.param("America/New_York", dict(start="2026-03-07 22:00", unit="hour", length=8),
                 "2026-03-07 22:00", "2026-03-08 23:00",
                 [("2026-03-07 22:00-0500", 8, (1,)), ("2026-03-08 07:00-0400", 8, (2,)),
                  ("2026-03-08 15:00-0400", 8, (3,))], id="new-york-8-hourly-spring"),
    pytest.param("Europe/Berlin", dict(start="2026-10-24 21:00", unit="hour", length=12, members=(1, 2)),
                 "2026-10-24 21:00", "2026-10-26 08:00",
                 [("2026-10-24 21:00+0200", 12, (1,)), ("2026-10-25 08:00+0100", 12, (2,)),
                  ("2026-10-25 20:00+0100", 12, (1,))], id="berlin-12-hourly-fall"),
    pytest.param("Australia/Lord_Howe", dict(start="2026-10-03 23:00", unit="hour", length=6, members=(1, 2)),
                 "2026-10-03 23:00", "2026-10-04 11:30",
                 [("2026-10-03 23:00+1030", 6, (1,)), ("2026-10-04 05:30+1100", 6, (2,))],
                 id="lord-howe-6-hourly-october"),
    pytest.param("UTC", dict(start="2026-01-01 00:00", length=3, members=(1, 2)), "2026-01-01 00:00",
                 "2026-01-10 00:00",
                 [("2026-01-01 00:00+0000", 72, (1,)), ("2026-01-04 00:00+0000", 72, (2,)),
                  ("2026-01-07 00:00+0000", 72, (1,))], id="three-day-rotation"),
    pytest.param("UTC", dict(start="2026-01-01 06:00", unit="hour", length=1, members=(1, 2)), "2026-01-01 05:00",
                 "2026-01-01 08:30",
                 [("2026-01-01 05:00+0000", 1, ()), ("2026-01-01 06:00+0000", 1, (1,)),
                  ("2026-01-01 07:00+0000", 1, (2,)), ("2026-01-01 08:00+0000", 0.5, (1,))], id="hourly-rotation"),
    # Leap days: 2028-02-29 is a Tuesday; New York goes to EDT on Sun 2028-03-12.
    pytest.param("UTC", dict(start="2028-02-28 09:00", members=(1, 2)), "2028-02-28 09:00", "2028-03-02 09:00",
                 [("2028-02-28 09:00+0000", 24, (1,)), ("2028-02-29 09:00+0000", 24, (2,)),
                  ("2028-03-01 09:00+0000", 24, (1,))], id="daily-across-leap-day"),
    pytest.param("America/New_York", dict(start="2028-02-22 09:00", unit="week", members=(1, 2)),
                 "2028-02-22 09:00", "2028-03-14 09:00",
                 [("2028-02-22 09:00-0500", 168, (1,)), ("2028-02-29 09:00-0500", 168, (2,)),
                  ("2028-03-07 09:00-0500", 167, (1,))], id="weekly-across-leap-day-and-dst"),
    pytest.param("Europe/Berlin", dict(start="2028-02-29 09:00", length=365, members=(1, 2)),
                 "2028-02-29 09:00", "2029-03-01 09:00",
                 [("2028-02-29 09:00+0100", 365 * 24, (1,)), ("2029-02-28 09:00+0100", 24, (2,))],
                 id="layer-starting-on-leap-day"),
    # Lifetimes: nothing before rotation_start (no extrapolating backwards), nothing from ends_at on.
    pytest.param("UTC", dict(start="2026-01-05 09:00"), "2026-01-04 09:00", "2026-01-06 09:00",
                 [("2026-01-04 09:00+0000", 24, ()), ("2026-01-05 09:00+0000", 24, (1,))], id="before-start-is-gap"),
    pytest.param("UTC", dict(start="2026-01-05 00:00", ends_at=U("2026-01-06 12:00")), "2026-01-05 00:00",
                 "2026-01-08 00:00",
                 [("2026-01-05 00:00+0000", 24, (1,)), ("2026-01-06 00:00+0000", 12, (2,)),
                  ("2026-01-06 12:00+0000", 36, ())], id="ends-at"),
    pytest.param("UTC", dict(start="2026-01-05 00:00", members=()), "2026-01-05 00:00", "2026-01-07 00:00",
                 [("2026-01-05 00:00+0000", 48, ())], id="no-members-is-gap"),
    pytest.param("UTC", dict(start="2026-01-05 00:00", members=(7,)), "2026-01-04 00:00", "2026-01-08 00:00",
                 [("2026-01-04 00:00+0000", 24, ()), ("2026-01-05 00:00+0000", 72, (7,))],
                 id="one-member-merged"),
    pytest.param("UTC", dict(start="2026-01-01 09:00", members=(11, 12, 13, 14, 15, 16, 17)), "2026-01-10 09:00",
                 "2026-01-12 09:00",
                 [("2026-01-10 09:00+0000", 24, (13,)), ("2026-01-11 09:00+0000", 24, (14,))],
                 id="seven-members-shift-9-and-10"),
    pytest.param("UTC", dict(start="2026-01-01 09:00", members=(1, 2, 1)), "2026-01-01 09:00", "2026-01-05 09:00",
                 [("2026-01-01 09:00+0000", 24, (1,)), ("2026-01-02 09:00+0000", 24, (2,)),
                  ("2026-01-03 09:00+0000", 48, (1,))], id="user-twice-in-rotation"),
    pytest.param("UTC", dict(start="2025-01-01 09:00", unit="week", members=(1, 2, 3, 4)), "2026-01-01 00:00",
                 "2026-01-01 12:00",
                 # 2025-12-31 09:00 is exactly 52 weeks after the start: shift 52 is members[52 % 4] = 1.
                 [("2026-01-01 00:00+0000", 12, (1,))], id="far-from-start"),
]


@pytest.mark.parametrize(("zone", "kwargs", "frm", "to", "expected"), LAYER_CASES)
def test_layer_blocks(zone, kwargs, frm, to, expected):
    kwargs = dict(kwargs)
    lay = layer(T(zone, kwargs.pop("start")), **kwargs)
    spec = ScheduleSpec(zone, (lay,))
    assert show(layer_blocks(spec, lay, T(zone, frm), T(zone, to)), zone) == expected
    assert show(final_blocks(spec, T(zone, frm), T(zone, to)), zone) == expected  # one layer, no overrides


# Handoffs at local times that do not exist (spring-forward gap) or exist twice (fall-back).
# (zone, layer start (an exact instant), range, expected)
EDGE_CASES = [
    # 02:30 does not exist in New York on 2026-03-08: the handoff is at the jump, 03:00 EDT (not 03:30).
    pytest.param("America/New_York", T("America/New_York", "2026-03-06 02:30"), "2026-03-07 02:30",
                 "2026-03-09 02:30",
                 [("2026-03-07 02:30-0500", 23.5, (2,)), ("2026-03-08 03:00-0400", 23.5, (3,))],
                 id="new-york-nonexistent-02:30"),
    # 01:30 happens twice on 2026-11-01: the handoff is the first occurrence (EDT), so that shift lasts 25h.
    pytest.param("America/New_York", T("America/New_York", "2026-10-30 01:30"), "2026-10-31 01:30",
                 "2026-11-02 01:30",
                 [("2026-10-31 01:30-0400", 24, (2,)), ("2026-11-01 01:30-0400", 25, (3,))],
                 id="new-york-ambiguous-01:30"),
    # A rotation_start at the *second* 01:30 (06:30 UTC) is used exactly: the first 01:30 is before the start.
    pytest.param("America/New_York", U("2026-11-01 06:30"), "2026-11-01 01:00", "2026-11-03 01:30",
                 [("2026-11-01 01:00-0400", 1.5, ()), ("2026-11-01 01:30-0500", 24, (1,)),
                  ("2026-11-02 01:30-0500", 24, (2,))], id="new-york-start-at-second-01:30"),
    # Lord Howe skips 02:00-02:30 on 2026-10-04: a 02:15 handoff happens at 02:30 (+11).
    pytest.param("Australia/Lord_Howe", T("Australia/Lord_Howe", "2026-10-03 02:15"), "2026-10-03 02:15",
                 "2026-10-05 02:15",
                 [("2026-10-03 02:15+1030", 23.75, (1,)), ("2026-10-04 02:30+1100", 23.75, (2,))],
                 id="lord-howe-nonexistent-02:15"),
    # Lord Howe repeats 01:30-02:00 on 2026-04-05: a 01:45 handoff is the first one (+11).
    pytest.param("Australia/Lord_Howe", T("Australia/Lord_Howe", "2026-04-03 01:45"), "2026-04-04 01:45",
                 "2026-04-06 01:45",
                 [("2026-04-04 01:45+1100", 24, (2,)), ("2026-04-05 01:45+1100", 24.5, (3,))],
                 id="lord-howe-ambiguous-01:45"),
    # Chatham skips 02:45-03:45 on 2026-09-27: a 03:00 handoff happens at 03:45 (+13:45).
    pytest.param("Pacific/Chatham", T("Pacific/Chatham", "2026-09-26 03:00"), "2026-09-26 03:00",
                 "2026-09-28 03:00",
                 [("2026-09-26 03:00+1245", 23.75, (1,)), ("2026-09-27 03:45+1345", 23.25, (2,))],
                 id="chatham-nonexistent-03:00"),
]


@pytest.mark.parametrize(("zone", "start", "frm", "to", "expected"), EDGE_CASES)
def test_handoff_at_nonexistent_or_ambiguous_local_time(zone, start, frm, to, expected):
    lay = layer(start)
    spec = ScheduleSpec(zone, (lay,))
    assert show(layer_blocks(spec, lay, T(zone, frm), T(zone, to)), zone) == expected


NY = "America/New_York"
NY_0115 = ScheduleSpec(NY, (layer(T(NY, "2026-10-30 01:15"), ends_at=U("2026-11-10 00:00")),))  # 1, 2, 3, 1, ...


# Single instants around the edges (on_call_at works on a 1-microsecond range: no neighbouring context to lean on).
@pytest.mark.parametrize(("at", "expected"), [
    pytest.param(U("2026-10-30 05:15") - timedelta(microseconds=1), (), id="just-before-rotation-start"),
    pytest.param(U("2026-10-30 05:15"), (1,), id="at-rotation-start"),
    pytest.param(U("2026-11-01 05:14"), (2,), id="first-01:14-edt-still-outgoing"),
    pytest.param(U("2026-11-01 05:15"), (3,), id="first-01:15-edt-handoff"),
    # After the fall-back the wall clock reads 01:05 again, *earlier* than the 01:15 handoff that already happened.
    pytest.param(U("2026-11-01 06:05"), (3,), id="second-01:05-est-after-handoff"),
    pytest.param(U("2026-11-01 06:15"), (3,), id="second-01:15-est-no-second-handoff"),
    pytest.param(U("2026-11-02 06:15"), (1,), id="next-day-01:15-est"),
    pytest.param(U("2026-11-10 00:00") - timedelta(microseconds=1), (2,), id="just-before-ends-at"),
    pytest.param(U("2026-11-10 00:00"), (), id="at-ends-at"),
])
def test_on_call_at_edges(at, expected):
    assert on_call_at(NY_0115, at) == expected


@pytest.mark.parametrize(("zone", "local_start", "utc_second_handoff"), [
    ("Asia/Kolkata", "2026-01-05 09:00", "2026-01-06 03:30"),
    ("Asia/Kathmandu", "2026-01-05 09:00", "2026-01-06 03:15"),
    ("Pacific/Chatham", "2026-06-01 09:00", "2026-06-01 20:15"),  # +12:45 in June: 09:00 is 20:15 UTC the day before
    ("Australia/Lord_Howe", "2026-06-01 09:00", "2026-06-01 22:30"),  # +10:30
])
def test_odd_offsets_hand_off_at_the_right_utc_instant(zone, local_start, utc_second_handoff):
    spec = ScheduleSpec(zone, (layer(T(zone, local_start), members=(1, 2)),))
    handoff = U(utc_second_handoff)
    assert on_call_at(spec, handoff - timedelta(microseconds=1)) == (1,)
    assert on_call_at(spec, handoff) == (2,)


# --- restrictions ------------------------------------------------------------------------------------------------

BERLIN = "Europe/Berlin"
# (restrictions, local instant in Berlin, expected); the layer has the single member 1 from 2025-12-01.
RESTRICTION_CASES = [
    pytest.param((R(WEEKDAYS, "09:00", "17:00"),), "2026-01-05 08:59", (), id="business-before-open"),
    pytest.param((R(WEEKDAYS, "09:00", "17:00"),), "2026-01-05 09:00", (1,), id="business-at-open"),
    pytest.param((R(WEEKDAYS, "09:00", "17:00"),), "2026-01-09 16:59", (1,), id="business-friday-before-close"),
    pytest.param((R(WEEKDAYS, "09:00", "17:00"),), "2026-01-09 17:00", (), id="business-at-close"),
    pytest.param((R(WEEKDAYS, "09:00", "17:00"),), "2026-01-10 12:00", (), id="business-saturday"),
    # Friday night 22:00-06:00 ends on Saturday morning; "Friday" is the day the window starts.
    pytest.param((R({4}, "22:00", "06:00"),), "2026-01-09 21:59", (), id="friday-night-before"),
    pytest.param((R({4}, "22:00", "06:00"),), "2026-01-09 22:00", (1,), id="friday-night-start"),
    pytest.param((R({4}, "22:00", "06:00"),), "2026-01-10 05:59", (1,), id="friday-night-into-saturday"),
    pytest.param((R({4}, "22:00", "06:00"),), "2026-01-10 06:00", (), id="friday-night-over"),
    pytest.param((R({4}, "22:00", "06:00"),), "2026-01-10 23:00", (), id="saturday-night-not-listed"),
    pytest.param((R({4}, "22:00", "06:00"),), "2026-01-09 03:00", (), id="thursday-night-not-listed"),
    pytest.param((R(None, "22:00", "06:00"),), "2026-01-11 00:30", (1,), id="every-night"),
    pytest.param((R(None, "10:00", "10:00"),), "2026-01-11 09:59", (1,), id="start-equals-end-is-24h"),
    pytest.param((R(frozenset(), "00:00", "00:00"),), "2026-01-11 12:00", (), id="no-weekdays-never"),
    pytest.param((R(WEEKDAYS, "09:00", "17:00"), R({5, 6}, "10:00", "14:00")), "2026-01-10 11:00", (1,),
                 id="union-weekend-window"),
    pytest.param((R(WEEKDAYS, "09:00", "17:00"), R({5, 6}, "10:00", "14:00")), "2026-01-10 09:30", (),
                 id="union-weekend-before"),
    pytest.param((R(WEEKDAYS, "09:00", "17:00"),), "2026-03-30 09:00", (1,), id="business-after-dst-local"),
    pytest.param((R(WEEKDAYS, "09:00", "17:00"),), "2026-03-30 08:30", (), id="business-after-dst-before-open"),
]


@pytest.mark.parametrize(("restrictions", "local", "expected"), RESTRICTION_CASES)
def test_restrictions(restrictions, local, expected):
    spec = ScheduleSpec(BERLIN, (layer(T(BERLIN, "2025-12-01 09:00"), members=(1,), restrictions=restrictions),))
    assert on_call_at(spec, T(BERLIN, local)) == expected


# (zone, restrictions, layer members, range, expected): windows are wall-clock, so they stretch with DST.
RESTRICTION_BLOCK_CASES = [
    pytest.param(BERLIN, (R(None, "22:00", "06:00"),), (1,), "2026-03-28 12:00", "2026-03-29 12:00",
                 [("2026-03-28 12:00+0100", 10, ()), ("2026-03-28 22:00+0100", 7, (1,)),
                  ("2026-03-29 06:00+0200", 6, ())], id="night-window-spring-7h"),
    pytest.param(BERLIN, (R(None, "22:00", "06:00"),), (1,), "2026-10-24 12:00", "2026-10-25 12:00",
                 [("2026-10-24 12:00+0200", 10, ()), ("2026-10-24 22:00+0200", 9, (1,)),
                  ("2026-10-25 06:00+0100", 6, ())], id="night-window-fall-9h"),
    pytest.param("Australia/Lord_Howe", (R(None, "22:00", "06:00"),), (1,), "2026-10-03 12:00",
                 "2026-10-04 12:00",
                 [("2026-10-03 12:00+1030", 10, ()), ("2026-10-03 22:00+1030", 7.5, (1,)),
                  ("2026-10-04 06:00+1100", 6, ())], id="lord-howe-night-window-7.5h"),
    # A window entirely inside the spring-forward gap does not happen that day.
    pytest.param("America/New_York", (R(None, "02:00", "02:45"),), (1,), "2026-03-07 00:00", "2026-03-10 00:00",
                 [("2026-03-07 00:00-0500", 2, ()), ("2026-03-07 02:00-0500", 0.75, (1,)),
                  ("2026-03-07 02:45-0500", 46.25, ()), ("2026-03-09 02:00-0400", 0.75, (1,)),
                  ("2026-03-09 02:45-0400", 21.25, ())], id="window-inside-dst-gap-skipped"),
    # A handoff (09:00) inside a window splits it between the outgoing and incoming person.
    pytest.param("UTC", (R(None, "08:00", "10:00"),), (1, 2), "2026-01-05 00:00", "2026-01-06 12:00",
                 [("2026-01-05 00:00+0000", 8, ()), ("2026-01-05 08:00+0000", 1, (1,)),
                  ("2026-01-05 09:00+0000", 1, (2,)), ("2026-01-05 10:00+0000", 22, ()),
                  ("2026-01-06 08:00+0000", 1, (2,)), ("2026-01-06 09:00+0000", 1, (1,)),
                  ("2026-01-06 10:00+0000", 2, ())], id="handoff-inside-window"),
    # Friday 22:00 -> Saturday 06:00, seen from a range starting Saturday 00:00 (the window started "yesterday").
    pytest.param(BERLIN, (R({4}, "22:00", "06:00"),), (1,), "2026-01-10 00:00", "2026-01-11 00:00",
                 [("2026-01-10 00:00+0100", 6, (1,)), ("2026-01-10 06:00+0100", 18, ())],
                 id="window-from-yesterday"),
]


@pytest.mark.parametrize(("zone", "restrictions", "members", "frm", "to", "expected"), RESTRICTION_BLOCK_CASES)
def test_restriction_blocks(zone, restrictions, members, frm, to, expected):
    lay = layer(T(zone, "2026-01-04 09:00"), members=members, restrictions=restrictions)
    spec = ScheduleSpec(zone, (lay,))
    assert show(layer_blocks(spec, lay, T(zone, frm), T(zone, to)), zone) == expected


# --- layers: priority and show-through ---------------------------------------------------------------------------

BASE = layer(U("2026-01-05 00:00"), members=(1, 2), id=1, priority=0)  # 1 on the 5th, 2 on the 6th
NIGHTS = layer(U("2026-01-01 00:00"), unit="week", members=(9,), id=2, priority=1,
               restrictions=(R(None, "22:00", "06:00"),))

# (layers, range (UTC), expected)
PRIORITY_CASES = [
    pytest.param((BASE, NIGHTS), "2026-01-05 00:00", "2026-01-06 12:00",
                 [("2026-01-05 00:00+0000", 6, (9,)), ("2026-01-05 06:00+0000", 16, (1,)),
                  ("2026-01-05 22:00+0000", 8, (9,)), ("2026-01-06 06:00+0000", 6, (2,))],
                 id="night-layer-over-base-shows-through-by-day"),
    pytest.param((NIGHTS, BASE), "2026-01-05 00:00", "2026-01-06 12:00",
                 [("2026-01-05 00:00+0000", 6, (9,)), ("2026-01-05 06:00+0000", 16, (1,)),
                  ("2026-01-05 22:00+0000", 8, (9,)), ("2026-01-06 06:00+0000", 6, (2,))],
                 id="priority-not-tuple-order"),
    pytest.param((BASE, layer(U("2026-01-05 12:00"), unit="week", members=(9,), id=2, priority=1)),
                 "2026-01-05 00:00", "2026-01-06 00:00",
                 [("2026-01-05 00:00+0000", 12, (1,)), ("2026-01-05 12:00+0000", 12, (9,))],
                 id="base-shows-through-before-higher-layer-starts"),
    pytest.param((BASE, layer(U("2026-01-01 00:00"), members=(9,), id=2, priority=1, ends_at=U("2026-01-05 12:00"))),
                 "2026-01-05 00:00", "2026-01-06 00:00",
                 [("2026-01-05 00:00+0000", 12, (9,)), ("2026-01-05 12:00+0000", 12, (1,))],
                 id="base-shows-through-after-higher-layer-ends"),
    pytest.param((BASE, layer(U("2026-01-01 00:00"), members=(), id=2, priority=5)),
                 "2026-01-05 00:00", "2026-01-06 00:00", [("2026-01-05 00:00+0000", 24, (1,))],
                 id="empty-higher-layer-shows-through"),
    pytest.param((layer(U("2026-01-01 00:00"), members=(1,), id=1), layer(U("2026-01-01 00:00"), members=(2,), id=2)),
                 "2026-01-05 00:00", "2026-01-06 00:00", [("2026-01-05 00:00+0000", 24, (2,))],
                 id="tie-later-in-tuple-wins"),
    pytest.param((layer(U("2026-01-01 00:00"), members=(2,), id=2), layer(U("2026-01-01 00:00"), members=(1,), id=1)),
                 "2026-01-05 00:00", "2026-01-06 00:00", [("2026-01-05 00:00+0000", 24, (1,))],
                 id="tie-later-in-tuple-wins-reversed"),
    pytest.param((layer(U("2026-01-01 00:00"), members=(7,), priority=-3), layer(U("2026-01-01 00:00"),
                 members=(8,), priority=-4)), "2026-01-05 00:00", "2026-01-06 00:00",
                 [("2026-01-05 00:00+0000", 24, (7,))], id="negative-priorities"),
    pytest.param((BASE, layer(U("2026-01-01 00:00"), unit="week", members=(1,), id=2, priority=1,
                              restrictions=(R(None, "22:00", "06:00"),))),
                 "2026-01-05 00:00", "2026-01-06 00:00", [("2026-01-05 00:00+0000", 24, (1,))],
                 id="same-user-in-both-layers-merged"),
    pytest.param((layer(U("2026-02-01 00:00"), members=(1,)),), "2026-01-05 00:00", "2026-01-06 00:00",
                 [("2026-01-05 00:00+0000", 24, ())], id="all-gap-explicit"),
    pytest.param((), "2026-01-05 00:00", "2026-01-06 00:00", [("2026-01-05 00:00+0000", 24, ())], id="no-layers"),
]


@pytest.mark.parametrize(("layers", "frm", "to", "expected"), PRIORITY_CASES)
def test_layer_priority(layers, frm, to, expected):
    assert show(final_blocks(ScheduleSpec("UTC", layers), U(frm), U(to)), "UTC") == expected


# --- overrides ---------------------------------------------------------------------------------------------------


def O(user: int, frm: str, to: str, replaces: int | None = None) -> Override:  # noqa: E743
    return Override(user, U(frm), U(to), replaces)


# Base: user 1 on 2026-01-05, user 2 on 2026-01-06 (UTC); range is those two days. (overrides, expected)
OVERRIDE_CASES = [
    pytest.param((), [("2026-01-05 00:00+0000", 24, (1,)), ("2026-01-06 00:00+0000", 24, (2,))], id="none"),
    pytest.param((O(5, "2026-01-05 10:00", "2026-01-05 12:00"),),
                 [("2026-01-05 00:00+0000", 10, (1,)), ("2026-01-05 10:00+0000", 2, (5,)),
                  ("2026-01-05 12:00+0000", 12, (1,)), ("2026-01-06 00:00+0000", 24, (2,))], id="full"),
    pytest.param((O(5, "2026-01-05 20:00", "2026-01-06 04:00", replaces=1),),
                 [("2026-01-05 00:00+0000", 20, (1,)), ("2026-01-05 20:00+0000", 4, (5,)),
                  ("2026-01-06 00:00+0000", 24, (2,))], id="replaces-only-while-that-user-is-on"),
    pytest.param((O(6, "2026-01-05 20:00", "2026-01-06 04:00", replaces=2),),
                 [("2026-01-05 00:00+0000", 24, (1,)), ("2026-01-06 00:00+0000", 4, (6,)),
                  ("2026-01-06 04:00+0000", 20, (2,))], id="replaces-incoming-user"),
    pytest.param((O(5, "2026-01-05 10:00", "2026-01-05 12:00", replaces=3),),
                 [("2026-01-05 00:00+0000", 24, (1,)), ("2026-01-06 00:00+0000", 24, (2,))],
                 id="replacing-someone-not-on-call-no-effect"),
    pytest.param((O(7, "2026-01-05 10:00", "2026-01-05 14:00"), O(8, "2026-01-05 12:00", "2026-01-05 13:00")),
                 [("2026-01-05 00:00+0000", 10, (1,)), ("2026-01-05 10:00+0000", 2, (7,)),
                  ("2026-01-05 12:00+0000", 1, (8,)), ("2026-01-05 13:00+0000", 1, (7,)),
                  ("2026-01-05 14:00+0000", 10, (1,)), ("2026-01-06 00:00+0000", 24, (2,))],
                 id="nested-later-start-wins"),
    pytest.param((O(8, "2026-01-05 12:00", "2026-01-05 16:00"), O(7, "2026-01-05 10:00", "2026-01-05 14:00")),
                 [("2026-01-05 00:00+0000", 10, (1,)), ("2026-01-05 10:00+0000", 2, (7,)),
                  ("2026-01-05 12:00+0000", 4, (8,)), ("2026-01-05 16:00+0000", 8, (1,)),
                  ("2026-01-06 00:00+0000", 24, (2,))], id="overlapping-later-start-wins-regardless-of-order"),
    pytest.param((O(7, "2026-01-05 10:00", "2026-01-05 14:00"), O(8, "2026-01-05 10:00", "2026-01-05 12:00")),
                 [("2026-01-05 00:00+0000", 10, (1,)), ("2026-01-05 10:00+0000", 2, (8,)),
                  ("2026-01-05 12:00+0000", 2, (7,)), ("2026-01-05 14:00+0000", 10, (1,)),
                  ("2026-01-06 00:00+0000", 24, (2,))], id="equal-start-later-in-tuple-wins"),
    pytest.param((O(8, "2026-01-05 10:00", "2026-01-05 12:00"), O(7, "2026-01-05 10:00", "2026-01-05 14:00")),
                 [("2026-01-05 00:00+0000", 10, (1,)), ("2026-01-05 10:00+0000", 4, (7,)),
                  ("2026-01-05 14:00+0000", 10, (1,)), ("2026-01-06 00:00+0000", 24, (2,))],
                 id="equal-start-later-in-tuple-wins-reversed"),
    pytest.param((O(7, "2026-01-05 10:00", "2026-01-05 14:00"), O(8, "2026-01-05 11:00", "2026-01-05 13:00", 3)),
                 [("2026-01-05 00:00+0000", 10, (1,)), ("2026-01-05 10:00+0000", 4, (7,)),
                  ("2026-01-05 14:00+0000", 10, (1,)), ("2026-01-06 00:00+0000", 24, (2,))],
                 id="inapplicable-later-override-does-not-hide-earlier"),
    pytest.param((O(7, "2026-01-05 10:00", "2026-01-05 14:00"), O(8, "2026-01-05 11:00", "2026-01-05 13:00", 1)),
                 [("2026-01-05 00:00+0000", 10, (1,)), ("2026-01-05 10:00+0000", 1, (7,)),
                  ("2026-01-05 11:00+0000", 2, (8,)), ("2026-01-05 13:00+0000", 1, (7,)),
                  ("2026-01-05 14:00+0000", 10, (1,)), ("2026-01-06 00:00+0000", 24, (2,))],
                 id="later-replacing-override-checks-the-layer-user"),
    pytest.param((O(5, "2026-01-04 20:00", "2026-01-05 02:00"), O(6, "2026-01-06 22:00", "2026-01-07 09:00")),
                 [("2026-01-05 00:00+0000", 2, (5,)), ("2026-01-05 02:00+0000", 22, (1,)),
                  ("2026-01-06 00:00+0000", 22, (2,)), ("2026-01-06 22:00+0000", 2, (6,))],
                 id="clipped-to-range"),
    pytest.param((O(1, "2026-01-05 10:00", "2026-01-05 12:00"),),
                 [("2026-01-05 00:00+0000", 24, (1,)), ("2026-01-06 00:00+0000", 24, (2,))],
                 id="override-by-same-user-merged"),
    pytest.param((O(5, "2026-01-01 00:00", "2026-01-02 00:00"), O(5, "2026-01-09 00:00", "2026-01-10 00:00")),
                 [("2026-01-05 00:00+0000", 24, (1,)), ("2026-01-06 00:00+0000", 24, (2,))],
                 id="outside-range-ignored"),
]


@pytest.mark.parametrize(("overrides", "expected"), OVERRIDE_CASES)
def test_overrides(overrides, expected):
    spec = ScheduleSpec("UTC", (BASE,), overrides)
    assert show(final_blocks(spec, U("2026-01-05 00:00"), U("2026-01-07 00:00")), "UTC") == expected


@pytest.mark.parametrize(("override", "expected"), [
    pytest.param(O(9, "2026-01-06 06:00", "2026-01-06 08:00"),
                 [("2026-01-05 00:00+0000", 24, (1,)), ("2026-01-06 00:00+0000", 6, ()),
                  ("2026-01-06 06:00+0000", 2, (9,)), ("2026-01-06 08:00+0000", 16, ())], id="full-fills-gap"),
    pytest.param(O(9, "2026-01-06 06:00", "2026-01-06 08:00", replaces=2),
                 [("2026-01-05 00:00+0000", 24, (1,)), ("2026-01-06 00:00+0000", 24, ())], id="replacing-in-gap"),
])
def test_overrides_in_a_gap(override, expected):
    ending = layer(U("2026-01-05 00:00"), members=(1, 2), ends_at=U("2026-01-06 00:00"))
    spec = ScheduleSpec("UTC", (ending,), (override,))
    assert show(final_blocks(spec, U("2026-01-05 00:00"), U("2026-01-07 00:00")), "UTC") == expected


# --- next_handoffs, helpers, output shape ------------------------------------------------------------------------

DAILY = ScheduleSpec("UTC", (layer(U("2026-01-05 09:00")),))


@pytest.mark.parametrize(("spec", "after", "count", "horizon", "expected"), [
    pytest.param(DAILY, "2026-01-05 12:00", 3, MAX_RANGE,
                 [("2026-01-06 09:00", (2,)), ("2026-01-07 09:00", (3,)), ("2026-01-08 09:00", (1,))], id="daily"),
    pytest.param(DAILY, "2026-01-06 09:00", 1, MAX_RANGE, [("2026-01-07 09:00", (3,))], id="strictly-after"),
    pytest.param(DAILY, "2026-01-04 12:00", 2, MAX_RANGE, [("2026-01-05 09:00", (1,)), ("2026-01-06 09:00", (2,))],
                 id="from-before-start"),
    pytest.param(ScheduleSpec("UTC", (layer(U("2026-01-05 09:00"), members=(1,), ends_at=U("2026-01-09 00:00")),)),
                 "2026-01-06 00:00", 5, MAX_RANGE, [("2026-01-09 00:00", ())], id="gap-reported-then-nothing"),
    pytest.param(ScheduleSpec("UTC", (layer(U("2026-01-05 09:00"), unit="week", length=6, members=(1, 2)),)),
                 "2026-01-05 12:00", 1, MAX_RANGE, [("2026-02-16 09:00", (2,))], id="beyond-one-chunk"),
    pytest.param(DAILY, "2026-01-05 12:00", 3, timedelta(hours=30), [("2026-01-06 09:00", (2,))], id="horizon"),
    pytest.param(ScheduleSpec("UTC", (layer(U("2026-01-05 09:00"), members=(1,)),)), "2026-01-05 12:00", 1,
                 MAX_RANGE, [], id="one-member-never-changes"),
])
def test_next_handoffs(spec, after, count, horizon, expected):
    assert next_handoffs(spec, U(after), count, horizon) == [(U(at), who) for at, who in expected]


@pytest.mark.parametrize(("rotation_start", "zone", "expected"), [
    (U("2026-07-06 07:00"), "Europe/Berlin", "09:00"),
    (U("2026-01-05 07:00"), "Europe/Berlin", "08:00"),
    (U("2026-01-05 03:15"), "Asia/Kathmandu", "09:00"),
    (U("2026-06-01 22:30"), "Australia/Lord_Howe", "09:00"),
])
def test_handoff_time_of(rotation_start, zone, expected):
    assert handoff_time_of(rotation_start, zone) == expected


def test_blocks_are_utc_whatever_the_input_zones():
    override = Override(9, T("America/New_York", "2026-01-05 10:00"), T("Europe/Berlin", "2026-01-05 18:00"))
    spec = ScheduleSpec("Asia/Kathmandu", (layer(T("Asia/Kathmandu", "2026-01-05 09:00")),), (override,))
    blocks = final_blocks(spec, T("Pacific/Chatham", "2026-01-05 12:00"), T("Asia/Kolkata", "2026-01-07 12:00"))
    assert all(b.start.tzinfo is UTC and b.end.tzinfo is UTC for b in blocks)
    assert blocks[0].start == T("Pacific/Chatham", "2026-01-05 12:00")
    assert (9,) in [b.user_ids for b in blocks]


def test_a_full_year_of_hourly_shifts_is_computed():
    lay = layer(U("2028-01-01 00:00"), unit="hour", members=(1, 2), restrictions=(R(WEEKDAYS, "09:00", "17:00"),))
    spec = ScheduleSpec("Europe/Berlin", (lay,))
    blocks = final_blocks(spec, U("2028-01-01 00:00"), U("2028-01-01 00:00") + MAX_RANGE)
    assert sum((b.end - b.start for b in blocks), timedelta()) == MAX_RANGE
    # 2028 runs Saturday to Sunday: 52 weeks + 2 weekend days, so 260 weekdays of eight alternating 1-hour shifts.
    assert len([b for b in blocks if b.user_ids]) == 260 * 8


# --- validation --------------------------------------------------------------------------------------------------

NAIVE = datetime(2026, 1, 5, 9, 0)


@pytest.mark.parametrize(("call", "message"), [
    pytest.param(lambda: final_blocks(DAILY, NAIVE, U("2026-01-06 00:00")), "start must be a timezone-aware",
                 id="naive-start"),
    pytest.param(lambda: final_blocks(DAILY, U("2026-01-05 00:00"), NAIVE), "end must be a timezone-aware",
                 id="naive-end"),
    pytest.param(lambda: on_call_at(DAILY, NAIVE), "at must be a timezone-aware", id="naive-at"),
    pytest.param(lambda: layer_blocks(DAILY, DAILY.layers[0], NAIVE, NAIVE), "timezone-aware", id="naive-layer"),
    pytest.param(lambda: final_blocks(DAILY, U("2026-01-05 00:00"), U("2026-01-05 00:00")), "before end",
                 id="empty-range"),
    pytest.param(lambda: final_blocks(DAILY, U("2026-01-06 00:00"), U("2026-01-05 00:00")), "before end",
                 id="reversed-range"),
    pytest.param(lambda: final_blocks(DAILY, U("2026-01-05 00:00"), U("2026-01-05 00:00") + MAX_RANGE
                                      + timedelta(microseconds=1)), "range too long", id="range-too-long"),
    pytest.param(lambda: ScheduleSpec("Mars/Olympus_Mons", ()), "unknown time zone 'Mars/Olympus_Mons'",
                 id="unknown-zone"),
    pytest.param(lambda: ScheduleSpec("../../etc/passwd", ()), "unknown time zone", id="malformed-zone"),
    pytest.param(lambda: ScheduleSpec("", ()), "unknown time zone", id="empty-zone"),
    pytest.param(lambda: layer(NAIVE), "rotation_start must be a timezone-aware", id="naive-rotation-start"),
    pytest.param(lambda: layer(U("2026-01-05 00:00"), ends_at=NAIVE), "ends_at", id="naive-ends-at"),
    pytest.param(lambda: layer(U("2026-01-05 00:00"), unit="month"), "rotation unit", id="bad-unit"),
    pytest.param(lambda: layer(U("2026-01-05 00:00"), length=0), "rotation length", id="zero-length"),
    pytest.param(lambda: layer(U("2026-01-05 00:00"), length=True), "rotation length", id="bool-length"),
    pytest.param(lambda: O(1, "2026-01-05 10:00", "2026-01-05 10:00"), "end after it starts", id="empty-override"),
    pytest.param(lambda: Override(1, NAIVE, U("2026-01-06 00:00")), "override start", id="naive-override"),
    pytest.param(lambda: R({7}, "09:00", "17:00"), "weekdays", id="weekday-7"),
    pytest.param(lambda: Restriction(None, time(9, tzinfo=UTC), time(17)), "no tzinfo", id="aware-restriction"),
    pytest.param(lambda: next_handoffs(DAILY, U("2026-01-05 00:00"), 0), "count", id="count-zero"),
    pytest.param(lambda: next_handoffs(DAILY, U("2026-01-05 00:00"), 1, timedelta(days=400)), "horizon",
                 id="horizon-too-long"),
    pytest.param(lambda: next_handoffs(DAILY, NAIVE), "after must be a timezone-aware", id="naive-after"),
])
def test_invalid_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_range_of_exactly_the_limit_is_allowed():
    assert final_blocks(DAILY, U("2026-01-05 00:00"), U("2026-01-05 00:00") + MAX_RANGE)


@pytest.mark.parametrize(("raw", "expected"), [
    ({"weekdays": [0, 1, 4], "start": "09:00", "end": "17:30"}, R({0, 1, 4}, "09:00", "17:30")),
    ({"start": "22:00", "end": "06:00"}, R(None, "22:00", "06:00")),
    ({"weekdays": None, "start": "00:00", "end": "00:00"}, R(None, "00:00", "00:00")),
    ({"weekdays": [], "start": "23:59", "end": "00:00"}, R((), "23:59", "00:00")),
])
def test_restriction_from_json(raw, expected):
    assert restriction_from_json(raw) == expected


@pytest.mark.parametrize("raw", [
    {"start": "9:00", "end": "17:00"},
    {"start": "24:00", "end": "06:00"},
    {"start": "12:60", "end": "13:00"},
    {"start": " 09:00", "end": "17:00"},
    {"end": "17:00"},
    {"start": 900, "end": "17:00"},
    {"weekdays": "mon", "start": "09:00", "end": "17:00"},
    {"weekdays": [True], "start": "09:00", "end": "17:00"},
    {"weekdays": [1.0], "start": "09:00", "end": "17:00"},
    {"weekdays": [-1], "start": "09:00", "end": "17:00"},
    ["09:00", "17:00"],
])
def test_restriction_from_json_refuses(raw):
    with pytest.raises(ValueError, match="restriction"):
        restriction_from_json(raw)
