"""Schedules: create, read, change and delete them, replace their layers (rotations), and see the final schedule
of a saved or an unsaved definition. The REST API and the admin pages both call these functions; what a
definition may say is checked in ``opsknight.admin.schedule_input``, overrides live in
``opsknight.admin.schedule_overrides``.

* The name is unique (ignoring case); the time zone is an IANA name known to zoneinfo; the team is optional.
  ``updated_at``, when a writer sends the value it read, must still be current (else 409): two admins editing
  the same schedule cannot silently undo each other.
* **Saving layers replaces all of them** in one transaction, the schedule row locked: readers see the old set or
  the new one, never a mix.
* **Changing the time zone** keeps every layer's local start date and handoff time (09:00 stays 09:00 in the new
  zone, so the rotation instants move); ``ends_at`` and overrides are instants and stay put.
* **Delete** is refused (409) while an escalation policy step targets the schedule.
* **Preview** turns an unsaved definition into the very rows a save would write and evaluates them through
  ``schedule_store.spec_from_rows`` and ``engine.oncall``: the path saved schedules take, so what the preview
  shows is what the schedule will say once saved.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from opsknight.accounts import Principal
from opsknight.admin import Conflict, Invalid, NotFound, audit, authorize, parse
from opsknight.admin.schedule_input import (
    MAX_ID,
    PreviewRequest,
    ScheduleDefinition,
    SchedulePatch,
    invalid,
    layer_rows,
    local_instant,
    users_by_id,
)
from opsknight.engine import clock, oncall
from opsknight.engine.schedule_store import load_spec, spec_from_rows
from opsknight.models import (
    EscalationPolicy,
    EscalationStep,
    EscalationStepTarget,
    Schedule,
    ScheduleLayer,
    ScheduleLayerMember,
    TargetType,
    Team,
    User,
)
from opsknight.permissions import Permission

# Anyone may preview any definition they make up: keep its cost well under a stored schedule's year of /final.
PREVIEW_MAX_RANGE = timedelta(days=62)


# --- reading ---------------------------------------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def layers_of(db: Session, schedule_id: int) -> list[tuple[ScheduleLayer, list[int]]]:
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
            "rotation_length": layer.rotation_length, "rotation_start": iso(layer.rotation_start),
            "handoff_time": layer.handoff_time, "members": members, "restrictions": layer.restrictions or [],
            "ends_at": iso(layer.ends_at)}


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "status": user.status}


def _schedule_json(db: Session, schedule: Schedule) -> dict[str, Any]:
    layers = layers_of(db, schedule.id)
    team = db.get(Team, schedule.team_id) if schedule.team_id else None
    users = users_by_id(db, {m for _, members in layers for m in members})
    return {"id": schedule.id, "name": schedule.name, "description": schedule.description,
            "time_zone": schedule.time_zone, "team_id": schedule.team_id, "team_name": team.name if team else None,
            "created_at": iso(schedule.created_at), "updated_at": iso(schedule.updated_at),
            "layers": [_layer_json(layer, members) for layer, members in layers],
            "users": [_user_json(u) for u in sorted(users.values(), key=lambda u: (u.name, u.id))]}


def _snapshot(db: Session, schedule: Schedule) -> dict[str, Any]:
    """What the audit log compares before and after a change."""
    return {"name": schedule.name, "description": schedule.description, "time_zone": schedule.time_zone,
            "team_id": schedule.team_id,
            "layers": [{k: v for k, v in _layer_json(layer, members).items() if k != "id"}
                       for layer, members in layers_of(db, schedule.id)]}


def get_schedule(db: Session, actor: Principal | None, schedule_id: int) -> dict[str, Any]:
    """The schedule with its layers (members in rotation order) and the users they name."""
    authorize(actor, Permission.READ)
    return _schedule_json(db, schedule_row(db, schedule_id))


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
             "created_at": iso(s.created_at), "updated_at": iso(s.updated_at)} for s, team in rows]


def schedule_row(db: Session, schedule_id: int, *, lock: bool = False) -> Schedule:
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
                       f"(at {iso(schedule.updated_at)}): reload it and make your change again",
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
    rows = layer_rows(db, body.layers, body.time_zone, 0)
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
    schedule = schedule_row(db, schedule_id, lock=True)
    _check_version(schedule, body.updated_at)
    _check_team(db, body.team_id)
    rows = layer_rows(db, body.layers, body.time_zone, schedule.id)
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
        raise invalid(nulls)
    schedule = schedule_row(db, schedule_id, lock=True)
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
    for layer, _ in layers_of(db, schedule.id):
        wall = layer.rotation_start.astimezone(ZoneInfo(schedule.time_zone)).replace(tzinfo=None)
        try:
            layer.rotation_start = local_instant(wall, time_zone)
        except ValueError as exc:
            errors.append(f"time_zone: layer {layer.name!r} starts at {exc}; change its start first")
            continue
        if layer.ends_at is not None and layer.ends_at <= layer.rotation_start:
            errors.append(f"time_zone: layer {layer.name!r} would start after it ends ({iso(layer.ends_at)})")
        layer.handoff_time = oncall.handoff_time_of(layer.rotation_start, time_zone)
        db.add(layer)
    if errors:
        raise invalid(errors)


def delete_schedule(db: Session, actor: Principal | None, schedule_id: int) -> None:
    """Delete a schedule, its layers and overrides; refused while an escalation policy pages it."""
    authorize(actor, Permission.CONFIGURE)
    schedule = schedule_row(db, schedule_id, lock=True)
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


def _window(start: datetime, end: datetime, limit: timedelta = oncall.MAX_RANGE) -> tuple[datetime, datetime]:
    if start >= end:
        raise Invalid("end must be after start", ["end: must be after start"])
    if end - start > limit:
        raise Invalid(f"The window is too long: at most {limit.days} days",
                      [f"end: at most {limit.days} days after start"])
    return start.astimezone(UTC), end.astimezone(UTC)


def _timeline(db: Session, spec: oncall.ScheduleSpec, names: list[tuple[int | None, str]], start: datetime,
              end: datetime) -> Timeline:
    blocks = oncall.final_blocks(spec, start, end)
    layers = [(layer_id, name, oncall.layer_blocks(spec, layer, start, end))
              for (layer_id, name), layer in zip(names, spec.layers, strict=True)]
    ids = {u for b in blocks for u in b.user_ids} | {u for *_, bs in layers for b in bs for u in b.user_ids}
    return Timeline(spec.time_zone, start, end, blocks, layers, {i: u.name for i, u in users_by_id(db, ids).items()})


def saved_timeline(db: Session, actor: Principal | None, schedule_id: int, start: datetime,
                   end: datetime) -> Timeline:
    """The saved schedule over ``[start, end)``: exactly what ``/final?layers=true`` answers."""
    authorize(actor, Permission.READ)
    start, end = _window(start, end)
    schedule_row(db, schedule_id)
    spec = load_spec(db, schedule_id, start, end)
    names = [(layer.id, layer.name) for layer, _ in layers_of(db, schedule_id)]
    return _timeline(db, spec, names, start, end)


def preview(db: Session, actor: Principal | None, data: dict | PreviewRequest) -> Timeline:
    """What an unsaved definition would say over ``[start, end)``, with a saved schedule's overrides if named."""
    body = parse(PreviewRequest, data)
    authorize(actor, Permission.READ)
    start, end = _window(body.start, body.end, PREVIEW_MAX_RANGE)
    rows = layer_rows(db, body.layers, body.time_zone, body.schedule_id or 0)
    ordered = [row for _, row in sorted(enumerate(rows), key=lambda ir: (ir[1][0].position, ir[0]))]
    spec = spec_from_rows(body.time_zone, ordered, [])
    if body.schedule_id is not None:
        schedule_row(db, body.schedule_id)
        spec = dataclasses.replace(spec, overrides=load_spec(db, body.schedule_id, start, end).overrides)
    return _timeline(db, spec, [(None, layer.name) for layer, _ in ordered], start, end)
