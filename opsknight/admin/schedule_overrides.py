"""Schedule overrides: someone on call over ``[start, end)`` instead of everyone, or only instead of one person.

* ``user_id`` must be an active user; ``replaces_user_id`` must be someone in one of the schedule's rotations
  (else the override could never apply); ``end`` after ``start``.
* Admins (``CONFIGURE``) add and remove any override. A responder (``TAKE_SHIFT``) adds or removes only
  overrides whose ``user_id`` is the responder: taking a shift, whole or instead of a colleague — at most
  ``MAX_SELF_OVERRIDE`` long (31 days) and ending within ``SELF_OVERRIDE_HORIZON`` (62 days) from now, so a
  responder cannot make themselves on call for a century, replacing everyone, in one override or a chain of
  them. Admins are not bounded.
* Every change is in the audit log (``schedule.override.create`` / ``.delete``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from opsknight.accounts import Principal
from opsknight.admin import Forbidden, NotFound, audit, authorize, parse
from opsknight.admin.schedule_input import MAX_ID, OverrideIn, invalid, users_by_id
from opsknight.admin.schedules import iso, layers_of, schedule_row
from opsknight.engine import clock
from opsknight.models import ScheduleOverride, User, UserStatus
from opsknight.permissions import Permission, allowed


MAX_SELF_OVERRIDE = timedelta(days=31)
SELF_OVERRIDE_HORIZON = timedelta(days=62)


def _override_json(row: ScheduleOverride, users: dict[int, User]) -> dict[str, Any]:
    def name(user_id: int | None) -> str | None:
        return users[user_id].name if user_id in users else None

    return {"id": row.id, "schedule_id": row.schedule_id, "user_id": row.user_id, "user_name": name(row.user_id),
            "start": iso(row.starts_at), "end": iso(row.ends_at), "replaces_user_id": row.replaces_user_id,
            "replaces_user_name": name(row.replaces_user_id), "created_by_id": row.created_by_id,
            "created_at": iso(row.created_at)}


def may_override(actor: Principal, user_id: int) -> None:
    """Admins: any override. Responders: only overrides that put themselves on call (taking a shift)."""
    if not allowed(actor, Permission.CONFIGURE) and user_id != actor.user_id:
        raise Forbidden("Responders may only add or remove overrides that put themselves on call; "
                        "ask an admin for anyone else")


def list_overrides(db: Session, actor: Principal | None, schedule_id: int, start: datetime | None = None,
                   end: datetime | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Overrides overlapping ``[start, end)`` (either bound may be None), by start time."""
    authorize(actor, Permission.READ)
    schedule_row(db, schedule_id)
    query = select(ScheduleOverride).where(ScheduleOverride.schedule_id == schedule_id)
    if start is not None:
        query = query.where(ScheduleOverride.ends_at > start)
    if end is not None:
        query = query.where(ScheduleOverride.starts_at < end)
    rows = db.exec(query.order_by(ScheduleOverride.starts_at, ScheduleOverride.id).limit(limit)).all()
    users = users_by_id(db, {r.user_id for r in rows} | {r.replaces_user_id for r in rows if r.replaces_user_id})
    return [_override_json(r, users) for r in rows]


def create_override(db: Session, actor: Principal | None, schedule_id: int,
                    data: dict | OverrideIn) -> dict[str, Any]:
    body = parse(OverrideIn, data)
    actor = authorize(actor, Permission.TAKE_SHIFT)
    may_override(actor, body.user_id)
    schedule = schedule_row(db, schedule_id)
    errors = []
    if body.end <= body.start:
        errors.append("end: must be after start")
    elif not allowed(actor, Permission.CONFIGURE):
        if body.end - body.start > MAX_SELF_OVERRIDE:
            errors.append(f"end: a shift you take may last at most {MAX_SELF_OVERRIDE.days} days; ask an admin "
                          "for a longer override")
        elif body.end > clock.now() + SELF_OVERRIDE_HORIZON:
            errors.append(f"end: a shift you take must end within {SELF_OVERRIDE_HORIZON.days} days from now; ask "
                          "an admin for one further ahead")
    users = users_by_id(db, {body.user_id, body.replaces_user_id} - {None})
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
        elif body.replaces_user_id not in {m for _, members in layers_of(db, schedule.id) for m in members}:
            errors.append(f"replaces_user_id: {users[body.replaces_user_id].name} is in none of this schedule's "
                          "rotations, so the override would never apply")
    if errors:
        raise invalid(errors)
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
    may_override(actor, row.user_id)
    before = {"schedule_id": row.schedule_id, "user_id": row.user_id, "start": iso(row.starts_at),
              "end": iso(row.ends_at), "replaces_user_id": row.replaces_user_id}
    db.delete(row)
    db.flush()
    audit.record(db, actor, "schedule.override.delete", "schedule_override", override_id,
                 audit.changes_between(before, {}))
