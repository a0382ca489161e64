"""Schedules: create, edit and delete them, replace their layers (rotations), add and remove overrides, and
preview an unsaved definition. The REST API and the admin pages both call these functions.

Rules:

* **Schedule.** The name is unique (ignoring case); the time zone is an IANA name known to zoneinfo; the team
  is optional. ``updated_at``, when a writer sends the value it read, must still be current (else 409): two
  admins editing the same schedule cannot silently undo each other.
* **Layers.** ``priority`` (0-1000, stored as ``ScheduleLayer.position``): higher wins where layers overlap; of
  equal priorities the layer later in the list wins. ``members`` are user ids in rotation order (a user may
  repeat), at least one, every one an active user: a disabled user on call is a hole nobody gets paged in.
  ``rotation_start`` is the first handoff, given either as a local date in the schedule's zone plus
  ``handoff_time`` ("2026-03-02" + "09:00" = 09:00 local that day) or as a date-time with a UTC offset (then
  ``handoff_time``, if given, must be its local time). A local time that does not exist (inside a DST jump) is
  refused rather than moved; an ambiguous one (DST fall-back) means its first occurrence. The stored
  ``rotation_start`` instant and ``handoff_time`` therefore always agree, as ``engine.oncall`` requires.
  ``restrictions`` are ``{"weekdays": [0-6] | null, "start": "HH:MM", "end": "HH:MM"}`` windows (Monday = 0,
  null = every day, end <= start crosses midnight). ``ends_at`` (an instant) must come after the first handoff.
* **Saving layers replaces all of them** in one transaction, the schedule row locked: readers see the old set or
  the new one, never a mix.
* **Changing the time zone** keeps every layer's local start date and handoff time (09:00 stays 09:00 in the new
  zone, so the rotation instants move); ``ends_at`` and overrides are instants and stay put.
* **Overrides.** ``user_id`` (active) is on call over ``[start, end)``, instead of everyone or only instead of
  ``replaces_user_id`` (who must be in one of the schedule's rotations). Admins (CONFIGURE) add and remove any
  override; a responder (TAKE_SHIFT) only overrides whose ``user_id`` is themselves: taking a shift.
* **Delete** is refused (409) while an escalation policy step targets the schedule.
* **Preview** turns an unsaved definition into the very rows a save would write and evaluates them through
  ``schedule_store.spec_from_rows`` and ``engine.oncall``: the path saved schedules take, so what the preview
  shows is what the schedule will say once saved.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from opsknight.accounts import Principal
from opsknight.admin import Conflict, Forbidden, Invalid, NotFound, audit, authorize, parse
from opsknight.engine import clock, oncall
from opsknight.engine.schedule_store import load_spec, spec_from_rows
from opsknight.models import (
    EscalationPolicy,
    EscalationStep,
    EscalationStepTarget,
    Schedule,
    ScheduleLayer,
    ScheduleLayerMember,
    ScheduleOverride,
    TargetType,
    Team,
    User,
    UserStatus,
)
from opsknight.permissions import Permission, allowed

MAX_ID = 2**31 - 1
MAX_LAYERS = 20
MAX_MEMBERS = 100
MAX_RESTRICTIONS = 20
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEARS = (1970, 9998)  # far enough for any rota; keeps all date arithmetic inside datetime's range
# Keys the GET answer has that a writer may send back unchanged (a GET -> edit -> PUT round trip); ignored.
_READ_ONLY = ("id", "created_at", "users", "team_name")


# --- input models --------------------------------------------------------------------------------------------------


def _hhmm(value: str) -> str:
    if not _HHMM.fullmatch(value):
        raise ValueError("must be a time HH:MM (00:00 to 23:59)")
    return value


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _time_zone(value: str) -> str:
    if value not in _zone_names():
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin")
    return value


def _bounded(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    if not _YEARS[0] <= value.year <= _YEARS[1]:
        raise ValueError(f"must be between the years {_YEARS[0]} and {_YEARS[1]}")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
HHMM = Annotated[str, Field(max_length=5, examples=["09:00"]), AfterValidator(_hhmm)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
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

    name: str = Field(default="", max_length=100)
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
    description: str = Field(default="", max_length=2000)
    time_zone: TimeZone = "UTC"
    team_id: Id | None = None


class ScheduleDefinition(ScheduleFields):
    """A whole schedule as created (POST) or replaced (PUT). A GET answer sent back unchanged is accepted."""

    layers: list[LayerIn] = Field(default_factory=list, max_length=MAX_LAYERS)
    updated_at: AwareDatetime | None = Field(
        default=None, description="The updated_at you read: the save is refused (409) if it changed since")

    @model_validator(mode="before")
    @classmethod
    def _ignore_read_only(cls, data: Any) -> Any:
        return _drop_read_only(data, _READ_ONLY)


class SchedulePatch(BaseModel):
    """Only the fields sent change (``team_id: null`` removes the team)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: str | None = Field(default=None, max_length=2000)
    time_zone: TimeZone | None = None
    team_id: Id | None = None
    updated_at: AwareDatetime | None = Field(
        default=None, description="The updated_at you read: the change is refused (409) if it changed since")


class PreviewRequest(BaseModel):
    """An unsaved definition and the window to evaluate it over (at most 366 days)."""

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
    if not _YEARS[0] <= instant.astimezone(UTC).year <= 2999:
        errors.append(f"{where}: must be between the years {_YEARS[0]} and 2999")
        return None
    local = oncall.handoff_time_of(instant, time_zone)
    if layer.handoff_time is not None and layer.handoff_time != local:
        errors.append(f"layers.{i}.handoff_time: {layer.handoff_time} is not the local time of rotation_start "
                      f"({local} in {time_zone})")
        return None
    return instant.astimezone(UTC), local


def _invalid(errors: list[str]) -> Invalid:
    return Invalid("; ".join(errors) if len(errors) <= 3 else f"{len(errors)} fields are invalid", errors)


def _layer_rows(db: Session, layers: list[LayerIn], time_zone: str,
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
    users = _users(db, {m for layer in layers for m in layer.members})
    for i, layer in enumerate(layers):
        for j, user_id in enumerate(layer.members):
            user = users.get(user_id)
            if user is None:
                errors.append(f"layers.{i}.members.{j}: user {user_id} does not exist")
            elif user.status != UserStatus.ACTIVE:
                errors.append(f"layers.{i}.members.{j}: {user.name} is disabled and cannot be paged; "
                              "take them out of the rotation")
    if errors:
        raise _invalid(errors)
    return rows


# --- reading ---------------------------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _users(db: Session, ids: set[int]) -> dict[int, User]:
    return {u.id: u for u in db.exec(select(User).where(User.id.in_(ids)))} if ids else {}


def _layers_of(db: Session, schedule_id: int) -> list[tuple[ScheduleLayer, list[int]]]:
    layers = db.exec(select(ScheduleLayer).where(ScheduleLayer.schedule_id == schedule_id)
                     .order_by(ScheduleLayer.position, ScheduleLayer.id)).all()
    members: dict[int, list[int]] = {layer.id: [] for layer in layers}
    if layers:
        for m in db.exec(select(ScheduleLayerMember).where(ScheduleLayerMember.layer_id.in_(list(members)))
                         .order_by(ScheduleLayerMember.layer_id, ScheduleLayerMember.position)):
            members[m.layer_id].append(m.user_id)
    return [(layer, members[layer.id]) for layer in layers]


def _layer_json(layer: ScheduleLayer, members: list[int]) -> dict[str, Any]:
    return {"id": layer.id, "name": layer.name, "priority": layer.position, "rotation_unit": layer.rotation_unit,
            "rotation_length": layer.rotation_length, "rotation_start": _iso(layer.rotation_start),
            "handoff_time": layer.handoff_time, "members": members, "restrictions": layer.restrictions or [],
            "ends_at": _iso(layer.ends_at)}


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "status": user.status}


def _schedule_json(db: Session, schedule: Schedule) -> dict[str, Any]:
    layers = _layers_of(db, schedule.id)
    team = db.get(Team, schedule.team_id) if schedule.team_id else None
    users = _users(db, {m for _, members in layers for m in members})
    return {"id": schedule.id, "name": schedule.name, "description": schedule.description,
            "time_zone": schedule.time_zone, "team_id": schedule.team_id, "team_name": team.name if team else None,
            "created_at": _iso(schedule.created_at), "updated_at": _iso(schedule.updated_at),
            "layers": [_layer_json(layer, members) for layer, members in layers],
            "users": [_user_json(u) for u in sorted(users.values(), key=lambda u: (u.name, u.id))]}


def _snapshot(db: Session, schedule: Schedule) -> dict[str, Any]:
    """What the audit log compares before and after a change."""
    return {"name": schedule.name, "description": schedule.description, "time_zone": schedule.time_zone,
            "team_id": schedule.team_id,
            "layers": [{k: v for k, v in _layer_json(layer, members).items() if k != "id"}
                       for layer, members in _layers_of(db, schedule.id)]}


def get_schedule(db: Session, actor: Principal | None, schedule_id: int) -> dict[str, Any]:
    """The schedule with its layers (members in rotation order) and the users they name."""
    authorize(actor, Permission.READ)
    return _schedule_json(db, _get(db, schedule_id))


def list_schedules(db: Session, actor: Principal | None, *, after_id: int | None = None,
                   limit: int = 500) -> list[dict[str, Any]]:
    """Schedules by id (``after_id`` for the next page), each with its team name and layer count."""
    authorize(actor, Permission.READ)
    query = select(Schedule, Team.name).join(Team, Team.id == Schedule.team_id, isouter=True)
    if after_id is not None:
        query = query.where(Schedule.id > after_id)
    rows = db.exec(query.order_by(Schedule.id).limit(limit)).all()
    counts = dict(db.exec(select(ScheduleLayer.schedule_id, func.count()).where(
        ScheduleLayer.schedule_id.in_([s.id for s, _ in rows])).group_by(ScheduleLayer.schedule_id)).all()) \
        if rows else {}
    return [{"id": s.id, "name": s.name, "description": s.description, "time_zone": s.time_zone,
             "team_id": s.team_id, "team_name": team, "layer_count": counts.get(s.id, 0),
             "created_at": _iso(s.created_at), "updated_at": _iso(s.updated_at)} for s, team in rows]


def _get(db: Session, schedule_id: int, *, lock: bool = False) -> Schedule:
    query = select(Schedule).where(Schedule.id == schedule_id)
    schedule = db.exec(query.with_for_update() if lock else query).first() if 1 <= schedule_id <= MAX_ID else None
    if schedule is None:
        raise NotFound(f"Schedule {schedule_id} does not exist")
    return schedule


# --- writing ---------------------------------------------------------------------------------------------------------


def _check_name(db: Session, name: str, schedule_id: int | None) -> None:
    query = select(Schedule.id).where(func.lower(Schedule.name) == name.lower())
    if schedule_id is not None:
        query = query.where(Schedule.id != schedule_id)
    if db.exec(query).first() is not None:
        raise Conflict(f"A schedule named {name!r} exists already", [f"name: {name!r} is taken"])


def _check_team(db: Session, team_id: int | None) -> None:
    if team_id is not None and db.get(Team, team_id) is None:
        raise Invalid(f"Team {team_id} does not exist", [f"team_id: team {team_id} does not exist"])


def _check_version(schedule: Schedule, seen: datetime | None) -> None:
    if seen is not None and schedule.updated_at is not None and seen != schedule.updated_at:
        raise Conflict(f"Schedule {schedule.name!r} was changed by someone else since you loaded it "
                       f"(at {_iso(schedule.updated_at)}): reload it and make your change again",
                       ["updated_at: out of date"])


def _write_layers(db: Session, schedule_id: int, rows: list[tuple[ScheduleLayer, list[int]]]) -> None:
    db.exec(delete(ScheduleLayer).where(ScheduleLayer.schedule_id == schedule_id))  # members go by CASCADE
    for layer, members in rows:  # in list order, so ids (the tie-break of equal priorities) follow it
        layer.schedule_id = schedule_id
        db.add(layer)
        db.flush()
        db.add_all(ScheduleLayerMember(layer_id=layer.id, user_id=user_id, position=j)
                   for j, user_id in enumerate(members))
    db.flush()


def _flush_unique(db: Session, name: str) -> None:
    try:
        db.flush()
    except IntegrityError:  # a concurrent writer took the name between our check and our write
        raise Conflict(f"A schedule named {name!r} exists already", [f"name: {name!r} is taken"]) from None


def create_schedule(db: Session, actor: Principal | None, data: dict | ScheduleDefinition) -> dict[str, Any]:
    body = parse(ScheduleDefinition, data)
    authorize(actor, Permission.CONFIGURE)
    _check_team(db, body.team_id)
    rows = _layer_rows(db, body.layers, body.time_zone, 0)
    _check_name(db, body.name, None)
    now = clock.now()
    schedule = Schedule(name=body.name, description=body.description, time_zone=body.time_zone,
                        team_id=body.team_id, created_at=now, updated_at=now)
    db.add(schedule)
    _flush_unique(db, body.name)
    _write_layers(db, schedule.id, rows)
    audit.record(db, actor, "schedule.create", "schedule", schedule.id,
                 audit.changes_between({}, _snapshot(db, schedule)))
    return _schedule_json(db, schedule)


def replace_schedule(db: Session, actor: Principal | None, schedule_id: int,
                     data: dict | ScheduleDefinition) -> dict[str, Any]:
    """Replace the whole definition: fields and all layers, atomically."""
    body = parse(ScheduleDefinition, data)
    authorize(actor, Permission.CONFIGURE)
    schedule = _get(db, schedule_id, lock=True)
    _check_version(schedule, body.updated_at)
    _check_team(db, body.team_id)
    rows = _layer_rows(db, body.layers, body.time_zone, schedule.id)
    _check_name(db, body.name, schedule.id)
    before = _snapshot(db, schedule)
    schedule.name, schedule.description, schedule.time_zone, schedule.team_id = (
        body.name, body.description, body.time_zone, body.team_id)
    schedule.updated_at = clock.now()
    db.add(schedule)
    _flush_unique(db, body.name)
    _write_layers(db, schedule.id, rows)
    audit.record(db, actor, "schedule.update", "schedule", schedule.id,
                 audit.changes_between(before, _snapshot(db, schedule)))
    return _schedule_json(db, schedule)


def update_schedule(db: Session, actor: Principal | None, schedule_id: int,
                    data: dict | SchedulePatch) -> dict[str, Any]:
    """Change the name, description, time zone or team; layers keep their local start and handoff times."""
    body = parse(SchedulePatch, data)
    authorize(actor, Permission.CONFIGURE)
    sent = body.model_fields_set - {"updated_at"}
    nulls = [f"{f}: must not be null" for f in ("name", "description", "time_zone")
             if f in sent and getattr(body, f) is None]
    if nulls:
        raise _invalid(nulls)
    schedule = _get(db, schedule_id, lock=True)
    _check_version(schedule, body.updated_at)
    if "team_id" in sent:
        _check_team(db, body.team_id)
    if "name" in sent:
        _check_name(db, body.name, schedule.id)
    before = _snapshot(db, schedule)
    if "time_zone" in sent and body.time_zone != schedule.time_zone:
        _move_to_zone(db, schedule, body.time_zone)
    for field in sent:
        setattr(schedule, field, getattr(body, field))
    schedule.updated_at = clock.now()
    db.add(schedule)
    _flush_unique(db, schedule.name)
    audit.record(db, actor, "schedule.update", "schedule", schedule.id,
                 audit.changes_between(before, _snapshot(db, schedule)))
    return _schedule_json(db, schedule)


def _move_to_zone(db: Session, schedule: Schedule, time_zone: str) -> None:
    errors = []
    for layer, _ in _layers_of(db, schedule.id):
        wall = layer.rotation_start.astimezone(ZoneInfo(schedule.time_zone)).replace(tzinfo=None)
        try:
            layer.rotation_start = local_instant(wall, time_zone)
        except ValueError as exc:
            errors.append(f"time_zone: layer {layer.name!r} starts at {exc}; change its start first")
            continue
        if layer.ends_at is not None and layer.ends_at <= layer.rotation_start:
            errors.append(f"time_zone: layer {layer.name!r} would start after it ends ({_iso(layer.ends_at)})")
        layer.handoff_time = oncall.handoff_time_of(layer.rotation_start, time_zone)
        db.add(layer)
    if errors:
        raise _invalid(errors)


def delete_schedule(db: Session, actor: Principal | None, schedule_id: int) -> None:
    """Delete a schedule, its layers and overrides; refused while an escalation policy pages it."""
    authorize(actor, Permission.CONFIGURE)
    schedule = _get(db, schedule_id, lock=True)
    policies = db.exec(
        select(EscalationPolicy.name).join(EscalationStep, EscalationStep.policy_id == EscalationPolicy.id)
        .join(EscalationStepTarget, EscalationStepTarget.step_id == EscalationStep.id)
        .where(EscalationStepTarget.target_type == TargetType.SCHEDULE, EscalationStepTarget.target_id == schedule.id)
        .distinct().order_by(EscalationPolicy.name)).all()
    if policies:
        raise Conflict(f"Schedule {schedule.name!r} is paged by escalation polic{'y' if len(policies) == 1 else 'ies'} "
                       f"{', '.join(repr(p) for p in policies)}: take it out of them first")
    before = _snapshot(db, schedule)
    db.delete(schedule)
    db.flush()
    audit.record(db, actor, "schedule.delete", "schedule", schedule_id, audit.changes_between(before, {}))


# --- overrides -------------------------------------------------------------------------------------------------------


def _override_json(row: ScheduleOverride, users: dict[int, User]) -> dict[str, Any]:
    def name(user_id: int | None) -> str | None:
        return users[user_id].name if user_id in users else None

    return {"id": row.id, "schedule_id": row.schedule_id, "user_id": row.user_id, "user_name": name(row.user_id),
            "start": _iso(row.starts_at), "end": _iso(row.ends_at), "replaces_user_id": row.replaces_user_id,
            "replaces_user_name": name(row.replaces_user_id), "created_by_id": row.created_by_id,
            "created_at": _iso(row.created_at)}


def _may_override(actor: Principal, user_id: int) -> None:
    """Admins: any override. Responders: only overrides that put themselves on call (taking a shift)."""
    if not allowed(actor, Permission.CONFIGURE) and user_id != actor.user_id:
        raise Forbidden("Responders may only add or remove overrides that put themselves on call; "
                        "ask an admin for anyone else")


def list_overrides(db: Session, actor: Principal | None, schedule_id: int, start: datetime | None = None,
                   end: datetime | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Overrides overlapping ``[start, end)`` (either bound may be None), by start time."""
    authorize(actor, Permission.READ)
    _get(db, schedule_id)
    query = select(ScheduleOverride).where(ScheduleOverride.schedule_id == schedule_id)
    if start is not None:
        query = query.where(ScheduleOverride.ends_at > start)
    if end is not None:
        query = query.where(ScheduleOverride.starts_at < end)
    rows = db.exec(query.order_by(ScheduleOverride.starts_at, ScheduleOverride.id).limit(limit)).all()
    users = _users(db, {r.user_id for r in rows} | {r.replaces_user_id for r in rows if r.replaces_user_id})
    return [_override_json(r, users) for r in rows]


def create_override(db: Session, actor: Principal | None, schedule_id: int,
                    data: dict | OverrideIn) -> dict[str, Any]:
    body = parse(OverrideIn, data)
    actor = authorize(actor, Permission.TAKE_SHIFT)
    _may_override(actor, body.user_id)
    schedule = _get(db, schedule_id)
    errors = []
    if body.end <= body.start:
        errors.append("end: must be after start")
    users = _users(db, {body.user_id, body.replaces_user_id} - {None})
    user = users.get(body.user_id)
    if user is None:
        errors.append(f"user_id: user {body.user_id} does not exist")
    elif user.status != UserStatus.ACTIVE:
        errors.append(f"user_id: {user.name} is disabled and cannot be paged")
    if body.replaces_user_id is not None:
        if body.replaces_user_id == body.user_id:
            errors.append("replaces_user_id: must be someone else than user_id")
        elif body.replaces_user_id not in users:
            errors.append(f"replaces_user_id: user {body.replaces_user_id} does not exist")
        elif body.replaces_user_id not in {m for _, members in _layers_of(db, schedule.id) for m in members}:
            errors.append(f"replaces_user_id: {users[body.replaces_user_id].name} is in none of this schedule's "
                          "rotations, so the override would never apply")
    if errors:
        raise _invalid(errors)
    row = ScheduleOverride(schedule_id=schedule.id, user_id=body.user_id, replaces_user_id=body.replaces_user_id,
                           starts_at=body.start, ends_at=body.end, created_by_id=actor.user_id,
                           created_at=clock.now())
    db.add(row)
    db.flush()
    result = _override_json(row, users)
    audit.record(db, actor, "schedule.override.create", "schedule_override", row.id,
                 audit.changes_between({}, {k: result[k] for k in ("schedule_id", "user_id", "start", "end",
                                                                   "replaces_user_id")}))
    return result


def delete_override(db: Session, actor: Principal | None, schedule_id: int, override_id: int) -> None:
    actor = authorize(actor, Permission.TAKE_SHIFT)
    row = db.get(ScheduleOverride, override_id) if 1 <= override_id <= MAX_ID else None
    if row is None or row.schedule_id != schedule_id:
        raise NotFound(f"Override {override_id} of schedule {schedule_id} does not exist")
    _may_override(actor, row.user_id)
    before = {"schedule_id": row.schedule_id, "user_id": row.user_id, "start": _iso(row.starts_at),
              "end": _iso(row.ends_at), "replaces_user_id": row.replaces_user_id}
    db.delete(row)
    db.flush()
    audit.record(db, actor, "schedule.override.delete", "schedule_override", override_id,
                 audit.changes_between(before, {}))


# --- timelines: saved schedules and previews of unsaved ones ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timeline:
    """The final schedule over ``[start, end)`` and each layer alone (in evaluation order, lowest first)."""

    time_zone: str
    start: datetime
    end: datetime
    blocks: list[oncall.Block]
    layers: list[tuple[int | None, str, list[oncall.Block]]]  # (layer id, None when unsaved; name; blocks)
    user_names: dict[int, str]


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if start >= end:
        raise Invalid("end must be after start", ["end: must be after start"])
    if end - start > oncall.MAX_RANGE:
        raise Invalid(f"The window is too long: at most {oncall.MAX_RANGE.days} days",
                      [f"end: at most {oncall.MAX_RANGE.days} days after start"])
    return start.astimezone(UTC), end.astimezone(UTC)


def _timeline(db: Session, spec: oncall.ScheduleSpec, names: list[tuple[int | None, str]], start: datetime,
              end: datetime) -> Timeline:
    blocks = oncall.final_blocks(spec, start, end)
    layers = [(layer_id, name, oncall.layer_blocks(spec, layer, start, end))
              for (layer_id, name), layer in zip(names, spec.layers, strict=True)]
    ids = {u for b in blocks for u in b.user_ids} | {u for *_, bs in layers for b in bs for u in b.user_ids}
    return Timeline(spec.time_zone, start, end, blocks, layers, {i: u.name for i, u in _users(db, ids).items()})


def saved_timeline(db: Session, actor: Principal | None, schedule_id: int, start: datetime,
                   end: datetime) -> Timeline:
    """The saved schedule over ``[start, end)``: exactly what ``/final?layers=true`` answers."""
    authorize(actor, Permission.READ)
    start, end = _window(start, end)
    _get(db, schedule_id)
    spec = load_spec(db, schedule_id, start, end)
    names = [(layer.id, layer.name) for layer, _ in _layers_of(db, schedule_id)]
    return _timeline(db, spec, names, start, end)


def preview(db: Session, actor: Principal | None, data: dict | PreviewRequest) -> Timeline:
    """What an unsaved definition would say over ``[start, end)``, with a saved schedule's overrides if named."""
    body = parse(PreviewRequest, data)
    authorize(actor, Permission.READ)
    start, end = _window(body.start, body.end)
    rows = _layer_rows(db, body.layers, body.time_zone, body.schedule_id or 0)
    ordered = [row for _, row in sorted(enumerate(rows), key=lambda ir: (ir[1][0].position, ir[0]))]
    spec = spec_from_rows(body.time_zone, ordered, [])
    if body.schedule_id is not None:
        _get(db, body.schedule_id)
        spec = dataclasses.replace(spec, overrides=load_spec(db, body.schedule_id, start, end).overrides)
    return _timeline(db, spec, [(None, layer.name) for layer, _ in ordered], start, end)
