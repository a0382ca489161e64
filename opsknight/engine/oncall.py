"""Pure schedule math: who is on call, when. No database, no clock, no I/O: ``now`` is always an argument.

A wrong answer to "who is on call" is the second-worst bug OpsKnight can have, so every rule is written down
here, once, and the tests in ``tests/unit/test_oncall*.py`` pin each of them.

Inputs (frozen dataclasses, validated on construction)
------------------------------------------------------
``ScheduleSpec(time_zone, layers, overrides)``: ``time_zone`` is an IANA name; all wall-clock rules below are
evaluated in it. ``opsknight.engine.schedule_store.load_spec`` builds one from the database.

``Layer(id, priority, rotation_start, unit, length, members, restrictions=(), ends_at=None)``: one rotation.

* **Rotation.** Shift ``k`` (k >= 0) starts at ``rotation_start + k * length`` units and is covered by
  ``members[k % len(members)]``. For ``"day"``/``"week"`` the arithmetic is on the *wall clock* of the schedule's
  zone, so handoffs stay at the same local time across DST and a shift spanning a change lasts 23 or 25 hours
  (23.5/24.5 on Lord Howe). For ``"hour"`` it is elapsed time: exactly ``length`` real hours, whatever the clocks
  do (a "12-hour" shift is 12 hours of someone's life, not "until the clock says 21:00").
* **The handoff time is the local wall-clock time of ``rotation_start``.** ``ScheduleLayer.handoff_time`` is
  derived from it (see :func:`handoff_time_of`) and informational: one source of truth means the two can never
  disagree about who is on call. Writers set ``rotation_start`` to the first handoff instant.
* **Nonexistent local handoff** (inside a spring-forward gap, e.g. 02:30 in New York on 2026-03-08): the
  handoff happens at the first instant whose local time is at or past it, i.e. the moment the clocks jump
  (03:00 EDT). This is *not* zoneinfo's ``fold=0`` reading (03:30 EDT, RFC 5545's "use the offset before the
  gap"); we chose the jump so the outgoing person is never kept on call longer than the wall clock promised.
  **Ambiguous local handoff** (fall-back, e.g. 01:30 on 2026-11-01): the first occurrence (``fold=0``).
  ``rotation_start`` itself is an instant and is used exactly, even if it is the second occurrence of 01:30.
* **No extrapolation.** Before ``rotation_start`` the layer has nobody, as it has from ``ends_at`` on, and
  always when ``members`` is empty. The same user may appear several times in ``members``.
* **Restrictions.** With any restrictions, the layer covers only instants inside at least one window. A
  ``Restriction(weekdays, start, end)`` is a daily window on the listed weekdays (Monday = 0; ``None`` = every
  day; an empty set = never). ``end <= start`` means the window crosses midnight and ends the next day
  (22:00-06:00 "on Friday" is Friday 22:00 to Saturday 06:00; ``start == end`` is a full 24 hours); the weekday is
  the day the window *starts*. Window edges are local wall-clock times resolved like handoffs, so a 22:00-06:00
  window lasts 7 hours on the spring-forward night and 9 on the fall-back night.

``Override(user_id, start, end, replaces_user_id=None)``, in effect for ``[start, end)``:

* without ``replaces_user_id``: its user alone is on call, whatever the layers say (this fills gaps too);
* with it: its user replaces that user, only while that user is on call *from the layers*; otherwise no effect;
* overlapping overrides: at each instant the in-effect override that started *latest* and applies wins; on equal
  starts the later one in ``spec.overrides`` wins (the store orders by ``(starts_at, id)``: the newer row).
  An override that does not apply (it replaces someone not on call) never hides an earlier one that does.

Combining layers: the highest ``priority`` that has someone at an instant wins; where it has nobody (a gap,
outside its restrictions, before its start, after its end) the next lower layer shows through. Equal priorities:
the layer later in ``spec.layers`` wins (the store orders by ``(position, id)``: the newer row).

Outputs: ``Block(start, end, user_ids)``, half-open, in UTC. ``user_ids == ()`` is a GAP: nobody is on call.
Gaps are always explicit and never filled in. Block lists cover exactly the requested range, contiguously, with
adjacent blocks of equal ``user_ids`` merged (so a block edge always means a change of who is on call).

Limits: inputs must be timezone-aware (naive datetimes raise ``ValueError``); ranges longer than
``MAX_RANGE`` (366 days) are refused so one API call cannot burn the CPU.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UNITS = ("hour", "day", "week")
MAX_RANGE = timedelta(days=366)
_TICK = timedelta(microseconds=1)  # datetime's resolution: [at, at + _TICK) holds exactly the instant `at`
_DAY = timedelta(days=1)
_HHMM = re.compile(r"(\d\d):(\d\d)")

Segment = tuple[datetime, datetime, tuple[int, ...]]  # internal: a covered stretch [start, end) and who


# --- types -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restriction:
    """A daily window ``[start, end)`` in the schedule's zone on ``weekdays`` (Monday = 0; None = every day)."""

    weekdays: frozenset[int] | None
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.weekdays is not None:
            days = frozenset(self.weekdays)
            if any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days):
                raise ValueError(f"restriction weekdays must be integers 0 (Monday) to 6, got {sorted(days)!r}")
            object.__setattr__(self, "weekdays", days)
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("restriction times are wall-clock times in the schedule's zone: no tzinfo")


@dataclass(frozen=True)
class Layer:
    """One rotation; see the module docstring for the rules."""

    id: int
    priority: int
    rotation_start: datetime
    unit: str
    length: int
    members: tuple[int, ...]
    restrictions: tuple[Restriction, ...] = ()
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.rotation_start, "rotation_start")
        if self.ends_at is not None:
            _require_aware(self.ends_at, "ends_at")
        if self.unit not in UNITS:
            raise ValueError(f"rotation unit must be one of {UNITS}, got {self.unit!r}")
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 1:
            raise ValueError(f"rotation length must be an integer >= 1, got {self.length!r}")
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "restrictions", tuple(self.restrictions))


@dataclass(frozen=True)
class Override:
    """``user_id`` on call for ``[start, end)``, instead of everyone or only instead of ``replaces_user_id``."""

    user_id: int
    start: datetime
    end: datetime
    replaces_user_id: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.start, "override start")
        _require_aware(self.end, "override end")
        if self.start >= self.end:
            raise ValueError(f"override must end after it starts: {self.start} >= {self.end}")


@dataclass(frozen=True)
class ScheduleSpec:
    time_zone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        zone(self.time_zone)  # fail at construction, with a clear message, not halfway through a page
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "overrides", tuple(self.overrides))


@dataclass(frozen=True)
class Block:
    """``user_ids`` on call for ``[start, end)`` (UTC). Empty ``user_ids``: a gap, nobody is on call."""

    start: datetime
    end: datetime
    user_ids: tuple[int, ...]


# --- public functions --------------------------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError (not zoneinfo's KeyError) for an unknown or malformed one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'") from None


def layer_blocks(spec: ScheduleSpec, layer: Layer, start: datetime, end: datetime) -> list[Block]:
    """That layer alone over ``[start, end)``: contiguous blocks, gaps explicit, equal neighbours merged."""
    start, end = _check_range(start, end)
    return _fill(_coverage(layer, zone(spec.time_zone), start, end), start, end)


def final_blocks(spec: ScheduleSpec, start: datetime, end: datetime) -> list[Block]:
    """Who is on call over ``[start, end)`` after layers and overrides: contiguous, gaps explicit, merged."""
    start, end = _check_range(start, end)
    tz = zone(spec.time_zone)
    ranked = sorted(enumerate(spec.layers), key=lambda il: (il[1].priority, il[0]), reverse=True)
    coverages = [_coverage(layer, tz, start, end) for _, layer in ranked]
    in_range = [(i, o) for i, o in enumerate(spec.overrides) if o.start < end and o.end > start]
    in_range.sort(key=lambda io: (io[1].start, io[0]), reverse=True)  # winning order: latest start, later in tuple
    overrides = [(max(o.start.astimezone(UTC), start), min(o.end.astimezone(UTC), end), o) for _, o in in_range]

    cuts = {start, end}
    for coverage in coverages:
        for s, e, _ in coverage:
            cuts.update((s, e))
    for s, e, _ in overrides:
        cuts.update((s, e))

    pointers = [0] * len(coverages)
    segments: list[Segment] = []
    for a, b in pairwise(sorted(cuts)):
        base: tuple[int, ...] = ()
        for i, coverage in enumerate(coverages):  # advance every pointer; the first layer covering `a` wins
            p = pointers[i]
            while p < len(coverage) and coverage[p][1] <= a:
                p += 1
            pointers[i] = p
            if not base and p < len(coverage) and coverage[p][0] <= a:
                base = coverage[p][2]
        who = base
        for s, e, o in overrides:
            if s <= a < e and (o.replaces_user_id is None or base == (o.replaces_user_id,)):
                who = (o.user_id,)
                break
        segments.append((a, b, who))
    return _fill(segments, start, end)


def on_call_at(spec: ScheduleSpec, at: datetime) -> tuple[int, ...]:
    """Who is on call at the instant ``at`` (``()`` = nobody). Same code path as :func:`final_blocks`."""
    _require_aware(at, "at")
    return final_blocks(spec, at, at + _TICK)[0].user_ids


def next_handoffs(spec: ScheduleSpec, after: datetime, count: int = 1,
                  horizon: timedelta = MAX_RANGE) -> list[tuple[datetime, tuple[int, ...]]]:
    """The next ``count`` instants strictly after ``after`` (within ``horizon``) where who is on call changes,
    each with the new ``user_ids`` (``()`` = a gap begins). Fewer if the horizon runs out first."""
    _require_aware(after, "after")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not timedelta(0) < horizon <= MAX_RANGE:
        raise ValueError(f"horizon must be positive and at most {MAX_RANGE.days} days")
    current = on_call_at(spec, after)
    found: list[tuple[datetime, tuple[int, ...]]] = []
    cursor, limit = after, after + horizon
    while cursor < limit:  # a month at a time: the next handoff is usually near, so don't compute a year
        chunk_end = min(cursor + timedelta(days=31), limit)
        for block in final_blocks(spec, cursor, chunk_end):
            if block.user_ids != current:
                found.append((block.start, block.user_ids))
                current = block.user_ids
                if len(found) == count:
                    return found
        cursor = chunk_end
    return found


def handoff_time_of(rotation_start: datetime, time_zone: str) -> str:
    """The "HH:MM" wall-clock handoff time a layer starting at ``rotation_start`` has (for ``handoff_time``)."""
    _require_aware(rotation_start, "rotation_start")
    return rotation_start.astimezone(zone(time_zone)).strftime("%H:%M")


def restriction_from_json(raw: Mapping[str, Any]) -> Restriction:
    """Parse ``{"weekdays": [0..6] | null, "start": "HH:MM", "end": "HH:MM"}`` (weekdays missing = every day)."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"restriction must be an object, got {raw!r}")
    weekdays = raw.get("weekdays")
    if weekdays is not None and not isinstance(weekdays, list | tuple):
        raise ValueError(f"restriction weekdays must be a list of 0 (Monday) to 6, got {weekdays!r}")
    return Restriction(weekdays=None if weekdays is None else frozenset(weekdays),
                       start=_parse_hhmm(raw.get("start")), end=_parse_hhmm(raw.get("end")))


# --- internals ---------------------------------------------------------------------------------------------------


def _require_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")


def _check_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    _require_aware(start, "start")
    _require_aware(end, "end")
    if start >= end:
        raise ValueError(f"start must be before end: {start} >= {end}")
    if end - start > MAX_RANGE:
        raise ValueError(f"range too long: at most {MAX_RANGE.days} days at a time")
    return start.astimezone(UTC), end.astimezone(UTC)


def _parse_hhmm(value: Any) -> time:
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"restriction times must be 'HH:MM' (00:00 to 23:59), got {value!r}")
    return time(int(match[1]), int(match[2]))


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _resolve(wall: datetime, tz: ZoneInfo) -> datetime:
    """Local wall-clock time -> UTC instant: the first instant whose local reading is at or past ``wall``.

    Existing and ambiguous times: the (first) occurrence. Nonexistent times: the instant the clocks jump.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first
    # In a gap, fold=1 maps `wall` with the post-jump offset, landing before the jump, and fold=0 after it.
    # Binary-search the jump to the second (time zone transitions fall on whole seconds).
    lo = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    hi = int(first.timestamp()) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), tz) >= wall:
            hi = mid
        else:
            lo = mid + 1
    return datetime.fromtimestamp(lo, UTC)


class _Rotation:
    """Shift start instants of one layer (see the module docstring)."""

    def __init__(self, layer: Layer, tz: ZoneInfo) -> None:
        self.tz = tz
        self.origin = layer.rotation_start.astimezone(UTC)
        self.origin_wall = _wall(self.origin, tz)
        self.hourly = layer.unit == "hour"
        self.period = (timedelta(hours=layer.length) if self.hourly
                       else timedelta(days=layer.length * (7 if layer.unit == "week" else 1)))

    def start(self, k: int) -> datetime:
        if k == 0:
            return self.origin  # exact, even when it is the second occurrence of an ambiguous wall time
        if self.hourly:
            return self.origin + k * self.period
        return _resolve(self.origin_wall + k * self.period, self.tz)

    def index(self, at: datetime) -> int:
        """The shift containing ``at`` (which must be >= origin)."""
        if self.hourly:
            return (at - self.origin) // self.period
        # Wall-clock estimate, then correct: DST moves a handoff by hours, never by a whole period.
        k = max(0, (_wall(at, self.tz) - self.origin_wall) // self.period)
        while k > 0 and self.start(k) > at:
            k -= 1
        while self.start(k + 1) <= at:
            k += 1
        return k


def _shifts(layer: Layer, tz: ZoneInfo, start: datetime, end: datetime) -> Iterator[Segment]:
    """The layer's shifts clipped to ``[start, end)`` and to its own lifetime."""
    rotation = _Rotation(layer, tz)
    a = max(start, rotation.origin)
    b = min(end, layer.ends_at.astimezone(UTC)) if layer.ends_at is not None else end
    if not layer.members or a >= b:
        return
    k = rotation.index(a)
    shift_start = rotation.start(k)
    while shift_start < b:
        shift_end = rotation.start(k + 1)
        if shift_end > a and shift_end > shift_start:  # the guard only matters for pathological zone data
            yield max(shift_start, a), min(shift_end, b), (layer.members[k % len(layer.members)],)
        shift_start, k = shift_end, k + 1


def _windows(restrictions: tuple[Restriction, ...], tz: ZoneInfo, start: datetime,
             end: datetime) -> list[tuple[datetime, datetime]]:
    """Restriction windows clipped to ``[start, end)``, sorted and merged."""
    found = []
    day: date = _wall(start, tz).date() - _DAY  # yesterday's window may cross midnight into the range
    last = _wall(end, tz).date() + _DAY
    while day <= last:
        for r in restrictions:
            if r.weekdays is None or day.weekday() in r.weekdays:
                ws = _resolve(datetime.combine(day, r.start), tz)
                we = _resolve(datetime.combine(day + _DAY if r.end <= r.start else day, r.end), tz)
                if max(ws, start) < min(we, end):  # empty when both edges fall in one DST gap
                    found.append((max(ws, start), min(we, end)))
        day += _DAY
    merged: list[tuple[datetime, datetime]] = []
    for ws, we in sorted(found):
        if merged and ws <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], we))
        else:
            merged.append((ws, we))
    return merged


def _coverage(layer: Layer, tz: ZoneInfo, start: datetime, end: datetime) -> list[Segment]:
    """Where in ``[start, end)`` the layer has someone, sorted and disjoint (gaps are simply absent)."""
    shifts = list(_shifts(layer, tz, start, end))
    if not layer.restrictions or not shifts:
        return shifts
    windows = _windows(layer.restrictions, tz, start, end)
    covered: list[Segment] = []
    j = 0
    for s, e, who in shifts:  # two sorted, disjoint lists: intersect them in one pass
        while j < len(windows) and windows[j][1] <= s:
            j += 1
        i = j
        while i < len(windows) and windows[i][0] < e:
            lo, hi = max(s, windows[i][0]), min(e, windows[i][1])
            if lo < hi:
                covered.append((lo, hi, who))
            i += 1
    return covered


def _fill(segments: list[Segment], start: datetime, end: datetime) -> list[Block]:
    """Sorted disjoint segments -> blocks covering exactly ``[start, end)``: gaps explicit, neighbours merged."""
    blocks: list[Block] = []

    def add(s: datetime, e: datetime, who: tuple[int, ...]) -> None:
        if blocks and blocks[-1].user_ids == who:
            blocks[-1] = Block(blocks[-1].start, e, who)
        else:
            blocks.append(Block(s, e, who))

    cursor = start
    for s, e, who in segments:
        if s > cursor:
            add(cursor, s, ())
        add(s, e, who)
        cursor = e
    if cursor < end:
        add(cursor, end, ())
    return blocks
