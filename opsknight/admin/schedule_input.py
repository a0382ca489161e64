"""What a schedule definition may say, checked before anything is written: the input models of the schedule
admin functions (``opsknight.admin.schedules``, ``opsknight.admin.schedule_overrides``) and the rows a
definition turns into.

* ``priority`` (0-1000, stored as ``ScheduleLayer.position``): higher wins where layers overlap; of equal
  priorities the layer later in the list wins (rows are written in list order, and ids break ties).
* ``members``: user ids in rotation order (a user may repeat), at least one, every one an active user: a disabled
  user on call is a hole nobody gets paged in.
* ``rotation_start`` is the first handoff, given either as a local date in the schedule's zone plus
  ``handoff_time`` ("2026-03-02" + "09:00" = 09:00 local that day) or as a date-time with a UTC offset (then
  ``handoff_time``, if given, must be its local time). A local time that does not exist (inside a DST jump) is
  refused rather than moved; an ambiguous one (DST fall-back) means its first occurrence. The stored
  ``rotation_start`` instant and ``handoff_time`` therefore always agree, as ``engine.oncall`` requires.
* ``restrictions``: ``{"weekdays": [0-6] | null, "start": "HH:MM", "end": "HH:MM"}`` windows (Monday = 0, null =
  every day, end <= start crosses midnight). ``ends_at`` (an instant) must come after the first handoff.
* Unknown keys are refused (a typo must never silently drop a rule); the read-only keys of a GET answer are
  ignored, so a GET -> edit -> PUT round trip works.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlmodel import Session, select

from opsknight.admin import Invalid
from opsknight.engine import oncall
from opsknight.models import ScheduleLayer, User, UserStatus

MAX_ID = 2**31 - 1
MAX_LAYERS = 20
MAX_MEMBERS = 100
MAX_RESTRICTIONS = 20
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEARS = (1970, 9998)  # far enough for any rota; keeps all date arithmetic inside datetime's range
# Keys the GET answer has that a writer may send back unchanged (a GET -> edit -> PUT round trip); ignored.
_READ_ONLY = ("id", "created_at", "users", "team_name")


def _hhmm(value: str) -> str:
    if not _HHMM.fullmatch(value):
        raise ValueError("must be a time HH:MM (00:00 to 23:59)")
    return value


@functools.cache
def time_zone_names() -> frozenset[str]:
    """Every IANA time zone name zoneinfo knows here."""
    return frozenset(available_timezones())


def _time_zone(value: str) -> str:
    if value not in time_zone_names():
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin")
    return value


def _bounded(value: datetime) -> datetime:
    if not _YEARS[0] <= value.year <= _YEARS[1]:  # checked before converting: year 1 at +14:00 has no UTC
        raise ValueError(f"must be between the years {_YEARS[0]} and {_YEARS[1]}")
    return value.astimezone(UTC)


def _printable(value: str) -> str:
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise ValueError("must not contain control characters")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
HHMM = Annotated[str, Field(max_length=5, examples=["09:00"]), AfterValidator(_hhmm)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                AfterValidator(_printable)]
LayerName = Annotated[str, Field(max_length=100), AfterValidator(_printable)]
Description = Annotated[str, Field(max_length=2000), AfterValidator(_printable)]
TimeZone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                     AfterValidator(_time_zone)]
Instant = Annotated[AwareDatetime, AfterValidator(_bounded)]
Weekday = Annotated[int, Field(ge=0, le=6)]


def _drop_read_only(data: Any, keys: tuple[str, ...]) -> Any:
    return {k: v for k, v in data.items() if k not in keys} if isinstance(data, dict) else data


class RestrictionIn(BaseModel):
    """A daily window ``[start, end)`` in the schedule's zone; ``end <= start`` crosses midnight, equal = 24 h."""

    model_config = ConfigDict(extra="forbid")

    weekdays: Annotated[list[Weekday], Field(min_length=1, max_length=7)] | None = Field(
        default=None, description="Days the window starts on, Monday = 0 ... Sunday = 6; null = every day")
    start: HHMM
    end: HHMM

    def stored(self) -> dict[str, Any]:
        return {"weekdays": None if self.weekdays is None else sorted(set(self.weekdays)), "start": self.start,
                "end": self.end}


class LayerIn(BaseModel):
    """One rotation (see the module docstring for ``rotation_start`` and ``handoff_time``)."""

    model_config = ConfigDict(extra="forbid")

    name: LayerName = ""
    priority: int = Field(default=0, ge=0, le=1000, description="Higher wins; equal: the later layer in the list")
    rotation_unit: Literal["hour", "day", "week"] = "week"
    rotation_length: int = Field(default=1, ge=1, le=1000, description="Units per shift")
    rotation_start: str = Field(min_length=1, max_length=64, examples=["2026-03-02", "2026-03-02T08:00:00Z"],
                                description="First handoff: a local date (with handoff_time) or an instant")
    handoff_time: HHMM | None = Field(default=None, description="Local HH:MM in the schedule's time zone")
    members: list[Id] = Field(min_length=1, max_length=MAX_MEMBERS,
                              description="User ids in rotation order; a user may appear more than once")
    restrictions: list[RestrictionIn] = Field(default_factory=list, max_length=MAX_RESTRICTIONS)
    ends_at: Instant | None = Field(default=None, description="The layer has nobody from this instant on")

    @model_validator(mode="before")
    @classmethod
    def _ignore_read_only(cls, data: Any) -> Any:
        return _drop_read_only(data, ("id",))


class ScheduleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    time_zone: TimeZone = "UTC"
    team_id: Id | None = None


class ScheduleDefinition(ScheduleFields):
    """A whole schedule as created (POST) or replaced (PUT). A GET answer sent back unchanged is accepted."""

    layers: list[LayerIn] = Field(default_factory=list, max_length=MAX_LAYERS)
    updated_at: Instant | None = Field(
        default=None, description="The updated_at you read: the save is refused (409) if it changed since")

    @model_validator(mode="before")
    @classmethod
    def _ignore_read_only(cls, data: Any) -> Any:
        return _drop_read_only(data, _READ_ONLY)


class SchedulePatch(BaseModel):
    """Only the fields sent change (``team_id: null`` removes the team)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    time_zone: TimeZone | None = None
    team_id: Id | None = None
    updated_at: Instant | None = Field(
        default=None, description="The updated_at you read: the change is refused (409) if it changed since")


class PreviewRequest(BaseModel):
    """An unsaved definition and the window to evaluate it over (at most 62 days)."""

    model_config = ConfigDict(extra="forbid")

    time_zone: TimeZone = "UTC"
    layers: list[LayerIn] = Field(default_factory=list, max_length=MAX_LAYERS)
    schedule_id: Id | None = Field(default=None, description="Include this saved schedule's overrides")
    start: Instant
    end: Instant

    @model_validator(mode="before")
    @classmethod
    def _ignore_definition_extras(cls, data: Any) -> Any:
        return _drop_read_only(data, (*_READ_ONLY, "name", "description", "team_id", "updated_at"))


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id = Field(description="Who is on call during the override")
    start: Instant
    end: Instant
    replaces_user_id: Id | None = Field(default=None, description="Only instead of this user; null = instead of "
                                                                   "whoever the layers put on call")


# --- local times -----------------------------------------------------------------------------------------------------


def local_instant(wall: datetime, time_zone: str) -> datetime:
    """The UTC instant of the naive local ``wall`` time in ``time_zone``; ValueError if the clocks skip it.

    An ambiguous time (DST fall-back) is its first occurrence, as ``engine.oncall`` reads handoffs.
    """
    tz = ZoneInfo(time_zone)
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != wall:
        raise ValueError(f"{wall:%Y-%m-%d %H:%M} does not exist in {time_zone} (the clocks skip it)")
    return instant


def _first_handoff(layer: LayerIn, time_zone: str, i: int, errors: list[str]) -> tuple[datetime, str] | None:
    """(rotation_start instant, handoff_time) of a layer, or None after adding what is wrong to ``errors``."""
    where, text = f"layers.{i}.rotation_start", layer.rotation_start.strip()
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            errors.append(f"{where}: not a valid date")
            return None
        if layer.handoff_time is None:
            errors.append(f"layers.{i}.handoff_time: required when rotation_start is a date")
            return None
        if not _YEARS[0] <= day.year <= 2999:
            errors.append(f"{where}: must be between the years {_YEARS[0]} and 2999")
            return None
        try:
            return local_instant(datetime.combine(day, time.fromisoformat(layer.handoff_time)), time_zone), \
                layer.handoff_time
        except ValueError as exc:
            errors.append(f"{where}: {exc}; pick another day or handoff time")
            return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        errors.append(f"{where}: a date (YYYY-MM-DD) or a date-time with a UTC offset")
        return None
    if instant.tzinfo is None or instant.utcoffset() is None:
        errors.append(f"{where}: a date-time needs a UTC offset or Z (or give a date and handoff_time)")
        return None
    if instant.second or instant.microsecond:
        errors.append(f"{where}: handoffs fall on whole minutes")
        return None
    if not _YEARS[0] <= instant.year <= 2999:
        errors.append(f"{where}: must be between the years {_YEARS[0]} and 2999")
        return None
    local = oncall.handoff_time_of(instant, time_zone)
    if layer.handoff_time is not None and layer.handoff_time != local:
        errors.append(f"layers.{i}.handoff_time: {layer.handoff_time} is not the local time of rotation_start "
                      f"({local} in {time_zone})")
        return None
    return instant.astimezone(UTC), local


def invalid(errors: list[str]) -> Invalid:
    return Invalid("; ".join(errors) if len(errors) <= 3 else f"{len(errors)} fields are invalid", errors)


def layer_rows(db: Session, layers: list[LayerIn], time_zone: str,
                schedule_id: int) -> list[tuple[ScheduleLayer, list[int]]]:
    """Unsaved rows for the layers, in list order, after every check; Invalid naming each problem."""
    errors: list[str] = []
    rows = []
    for i, layer in enumerate(layers):
        start = _first_handoff(layer, time_zone, i, errors)
        if start is None:
            continue
        if layer.ends_at is not None and layer.ends_at <= start[0]:
            errors.append(f"layers.{i}.ends_at: must be after the first handoff ({start[0].isoformat()})")
            continue
        rows.append((ScheduleLayer(schedule_id=schedule_id, name=layer.name.strip() or f"Layer {i + 1}",
                                   position=layer.priority, rotation_start=start[0], rotation_unit=layer.rotation_unit,
                                   rotation_length=layer.rotation_length, handoff_time=start[1],
                                   restrictions=[r.stored() for r in layer.restrictions], ends_at=layer.ends_at),
                     list(layer.members)))
    users = users_by_id(db, {m for layer in layers for m in layer.members})
    for i, layer in enumerate(layers):
        for j, user_id in enumerate(layer.members):
            user = users.get(user_id)
            if user is None:
                errors.append(f"layers.{i}.members.{j}: user {user_id} does not exist")
            elif user.status != UserStatus.ACTIVE:
                errors.append(f"layers.{i}.members.{j}: {user.name} is disabled and cannot be paged; "
                              "take them out of the rotation")
    if errors:
        raise invalid(errors)
    return rows


def users_by_id(db: Session, ids: set[int]) -> dict[int, User]:
    return {u.id: u for u in db.exec(select(User).where(User.id.in_(ids)))} if ids else {}
