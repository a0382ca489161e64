"""Property tests: for random schedules and ranges, blocks tile the range exactly, and who is on call at any
instant agrees three ways: ``on_call_at``, the block containing it, and a slow, independent reference model
written from the rules in ``oncall``'s docstring (per instant, no sweeps, its own DST handling).

Zones, times and restriction edges are drawn so DST transitions, gaps (02:30 in spring) and repeated hours land
inside the ranges often.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from opsknight.engine.oncall import (
    Block,
    Layer,
    Override,
    Restriction,
    ScheduleSpec,
    final_blocks,
    layer_blocks,
    on_call_at,
)

QUICK = settings(max_examples=100, deadline=None)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Chatham",
         "Asia/Kathmandu", "Asia/Kolkata"]
EPOCH = datetime(2026, 2, 20, tzinfo=UTC)  # ranges fall in 2026-02-20 .. 2026-12: both DST seasons everywhere
MINUTE = timedelta(minutes=1)
TICK = timedelta(microseconds=1)

quarter_hours = st.integers(0, 95).map(lambda q: time(q // 4, q % 4 * 15))
instants = st.integers(0, 300 * 24 * 4).map(lambda q: EPOCH + q * timedelta(minutes=15))
restrictions = st.builds(Restriction, st.none() | st.frozensets(st.integers(0, 6), max_size=7), quarter_hours,
                         quarter_hours)


@st.composite
def layers(draw, index: int) -> Layer:
    start = draw(instants) - timedelta(days=draw(st.integers(0, 60)))
    return Layer(
        id=index, priority=draw(st.integers(0, 2)), rotation_start=start, unit=draw(st.sampled_from(["hour", "day",
                                                                                                       "week"])),
        length=draw(st.integers(1, 3)), members=tuple(draw(st.lists(st.integers(1, 6), max_size=4))),
        restrictions=tuple(draw(st.lists(restrictions, max_size=2))),
        ends_at=draw(st.none() | st.integers(1, 80 * 24).map(lambda h: start + timedelta(hours=h))),
    )


@st.composite
def overrides(draw) -> Override:
    start = draw(instants)
    return Override(draw(st.integers(1, 8)), start, start + draw(st.integers(1, 96)) * timedelta(minutes=15),
                    draw(st.none() | st.integers(1, 6)))


@st.composite
def specs(draw) -> ScheduleSpec:
    n = draw(st.integers(0, 3))
    return ScheduleSpec(draw(st.sampled_from(ZONES)), tuple(draw(layers(i)) for i in range(n)),
                        tuple(draw(st.lists(overrides(), max_size=4))))


@st.composite
def ranges(draw) -> tuple[datetime, datetime]:
    start = draw(instants) + timedelta(seconds=draw(st.sampled_from([0, 0, 0, 1, 59])))
    return start, start + draw(st.integers(1, 10 * 24 * 4)) * timedelta(minutes=15)


# --- the reference model -----------------------------------------------------------------------------------------


def ref_resolve(wall: datetime, tz: ZoneInfo) -> datetime:
    """First instant whose local reading is at or past ``wall``, found by walking minute by minute."""
    candidates = sorted(wall.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1))
    for candidate in candidates:
        if candidate.astimezone(tz).replace(tzinfo=None) == wall:
            return candidate
    t = candidates[0].replace(second=0, microsecond=0)
    while t.astimezone(tz).replace(tzinfo=None) < wall:
        t += MINUTE
    return t


def ref_shift_start(layer: Layer, tz: ZoneInfo, k: int) -> datetime:
    if k == 0:
        return layer.rotation_start
    if layer.unit == "hour":
        return layer.rotation_start + timedelta(hours=k * layer.length)
    days = k * layer.length * (7 if layer.unit == "week" else 1)
    return ref_resolve(layer.rotation_start.astimezone(tz).replace(tzinfo=None) + timedelta(days=days), tz)


def ref_in_window(r: Restriction, tz: ZoneInfo, t: datetime) -> bool:
    today = t.astimezone(tz).date()
    for day in (today - timedelta(days=1), today):
        if r.weekdays is None or day.weekday() in r.weekdays:
            end_day = day + timedelta(days=1) if r.end <= r.start else day
            if ref_resolve(datetime.combine(day, r.start), tz) <= t < ref_resolve(datetime.combine(end_day, r.end), tz):
                return True
    return False


def ref_layer_user(layer: Layer, tz: ZoneInfo, t: datetime) -> int | None:
    if not layer.members or t < layer.rotation_start or (layer.ends_at is not None and t >= layer.ends_at):
        return None
    if layer.restrictions and not any(ref_in_window(r, tz, t) for r in layer.restrictions):
        return None
    k = 0
    while ref_shift_start(layer, tz, k + 1) <= t:
        k += 1
    return layer.members[k % len(layer.members)]


def ref_on_call(spec: ScheduleSpec, t: datetime) -> tuple[int, ...]:
    tz = ZoneInfo(spec.time_zone)
    base = None
    for _, layer in sorted(enumerate(spec.layers), key=lambda il: (il[1].priority, il[0]), reverse=True):
        base = ref_layer_user(layer, tz, t)
        if base is not None:
            break
    in_effect = [(o.start, i, o) for i, o in enumerate(spec.overrides) if o.start <= t < o.end]
    for _, _, o in sorted(in_effect, key=lambda x: (x[0], x[1]), reverse=True):
        if o.replaces_user_id is None or o.replaces_user_id == base:
            return (o.user_id,)
    return () if base is None else (base,)


# --- properties --------------------------------------------------------------------------------------------------


def assert_tiles(blocks: list[Block], start: datetime, end: datetime) -> None:
    assert blocks[0].start == start and blocks[-1].end == end
    for block in blocks:
        assert block.start < block.end
    for before, after in zip(blocks, blocks[1:]):
        assert before.end == after.start
        assert before.user_ids != after.user_ids  # merged: every edge is a real change


def samples(blocks: list[Block], extra: list[datetime]) -> list[datetime]:
    edges = [b.start for b in blocks] + [b.end - TICK for b in blocks]
    return sorted(set(edges[:12] + edges[-6:] + [t for t in extra if blocks[0].start <= t < blocks[-1].end]))


@QUICK
@given(specs(), ranges(), st.lists(instants, max_size=4))
def test_final_blocks_tile_the_range_and_agree_with_on_call_at_and_the_reference(spec, rng, extra):
    start, end = rng
    blocks = final_blocks(spec, start, end)
    assert_tiles(blocks, start, end)
    for t in samples(blocks, extra):
        containing = next(b for b in blocks if b.start <= t < b.end)
        assert on_call_at(spec, t) == containing.user_ids == ref_on_call(spec, t), t


@QUICK
@given(specs(), ranges())
def test_layer_blocks_tile_the_range_and_agree_with_the_reference(spec, rng):
    start, end = rng
    tz = ZoneInfo(spec.time_zone)
    for layer in spec.layers:
        blocks = layer_blocks(spec, layer, start, end)
        assert_tiles(blocks, start, end)
        for t in samples(blocks, []):
            containing = next(b for b in blocks if b.start <= t < b.end)
            expected = ref_layer_user(layer, tz, t)
            assert containing.user_ids == (() if expected is None else (expected,)), t


@QUICK
@given(specs(), ranges(), st.floats(0.01, 0.99))
def test_splitting_the_range_changes_nothing(spec, rng, fraction):
    start, end = rng
    middle = start + (end - start) * fraction
    left, right = final_blocks(spec, start, middle), final_blocks(spec, middle, end)
    if left[-1].user_ids == right[0].user_ids:  # the halves meet inside one block: join it
        left[-1:], right[:1] = [Block(left[-1].start, right[0].end, left[-1].user_ids)], []
    assert left + right == final_blocks(spec, start, end)
