"""Taking a shift and giving one away: the two writes of the "My on call" page, each one schedule override.

* ``take_shift``: the actor goes on call over ``[start, end)`` of a stretch that is one colleague's (``user_id``)
  or a gap (``user_id`` None). The override replaces that colleague where the rotations put them there, so it
  follows the rota; where the colleague is on call through an override of their own, or nobody is, it covers
  the whole schedule instead (a "replaces" override applies only over the rotations' choice — see
  ``engine.oncall``).
* ``give_shift``: the actor's own stretch goes to ``to_user_id``, an active colleague in the schedule's rotations.
  That puts someone else on call, which only admins may do (``schedule_overrides``' rule): a responder is
  refused with ``Forbidden`` before anything is read, and nothing changes.

Both start no earlier than now (a shift under way is taken or given from now on). A responder's take is clipped to
the self-override limits (``MAX_SELF_OVERRIDE`` long, ending within ``SELF_OVERRIDE_HORIZON``); what is left
empty is refused with a message saying why. The check ("is this stretch still that person's?") and the write run
under the schedule's row lock, so of two people taking the same shift at once the second is told it changed. The
write is ``schedule_overrides.create_override`` (its validation, permission rule and audit entry); afterwards the
final schedule must name the new person over the whole stretch, else the transaction is rolled back (Conflict).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from opsknight.accounts import Principal
from opsknight.admin import Conflict, Invalid, NotFound, authorize, parse
from opsknight.admin.schedule_input import Id, Instant
from opsknight.admin.schedule_overrides import (
    MAX_SELF_OVERRIDE,
    SELF_OVERRIDE_HORIZON,
    may_override,
    create_override,
)
from opsknight.admin.schedules import iso, layers_of, schedule_row
from opsknight.engine import clock, oncall
from opsknight.engine.schedule_store import load_spec
from opsknight.permissions import Permission, allowed


class TakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Instant
    end: Instant
    user_id: Id | None = None  # whose stretch it is now; None: a gap (nobody on call)


class GiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Instant
    end: Instant
    to_user_id: Id


def take_shift(db: Session, actor: Principal | None, schedule_id: int, data: dict | TakeIn) -> dict[str, Any]:
    """Put the actor on call over the stretch (clipped, see the module docstring); the created override."""
    body = parse(TakeIn, data)
    actor = authorize(actor, Permission.TAKE_SHIFT)
    if body.user_id == actor.user_id:
        raise Invalid("This is already your shift", ["user_id: that is you"])
    start, end, clipped = _window(actor, body.start, body.end)
    schedule_row(db, schedule_id, lock=True)
    spec = _spec(db, schedule_id, start, end)
    _still(spec, start, end, (body.user_id,) if body.user_id else (), "someone else's" if body.user_id else "a gap")
    replaces = body.user_id if body.user_id and _rotation_alone(spec, start, end, body.user_id) else None
    return _write(db, actor, schedule_id, actor.user_id, replaces, start, end, clipped)


def give_shift(db: Session, actor: Principal | None, schedule_id: int, data: dict | GiveIn) -> dict[str, Any]:
    """Put ``to_user_id`` on call instead of the actor over the stretch; admins only (see the module docstring)."""
    body = parse(GiveIn, data)
    actor = authorize(actor, Permission.TAKE_SHIFT)
    may_override(actor, body.to_user_id)  # the overrides' own rule, first: a refusal reads and changes nothing
    if body.to_user_id == actor.user_id:
        raise Invalid("Pick a colleague to give this shift to", ["to_user_id: that is you"])
    start, end, clipped = _window(actor, body.start, body.end)
    schedule_row(db, schedule_id, lock=True)
    if body.to_user_id not in {m for _, members in layers_of(db, schedule_id) for m in members}:
        raise Invalid("Give a shift only to someone in this schedule's rotations",
                      ["to_user_id: not in this schedule's rotations"])
    spec = _spec(db, schedule_id, start, end)
    _still(spec, start, end, (actor.user_id,), "yours")
    replaces = actor.user_id if _rotation_alone(spec, start, end, actor.user_id) else None
    return _write(db, actor, schedule_id, body.to_user_id, replaces, start, end, clipped)


def _window(actor: Principal, start: datetime, end: datetime) -> tuple[datetime, datetime, bool]:
    """``[start, end)`` from now on and, for a responder, within the self-override limits; Invalid if empty."""
    now = clock.now()
    if end <= start:
        raise Invalid("The shift must end after it starts", ["end: must be after start"])
    if end <= now:
        raise Invalid("This shift is already over", ["end: in the past"])
    lo, hi = max(start, now), end
    if not allowed(actor, Permission.CONFIGURE):
        hi = min(hi, lo + MAX_SELF_OVERRIDE, now + SELF_OVERRIDE_HORIZON)
        if hi <= lo:
            raise Invalid(f"You can take shifts only within the next {SELF_OVERRIDE_HORIZON.days} days; ask an "
                          "admin for this one", ["start: too far ahead"])
    return lo, hi, hi != end  # clipped: shortened by the limits (starting from now is no shortening worth saying)


def _spec(db: Session, schedule_id: int, start: datetime, end: datetime) -> oncall.ScheduleSpec:
    try:
        spec = load_spec(db, schedule_id, start, end)
    except ValueError as exc:  # malformed stored data: nobody can reason about a swap on it
        raise Conflict(f"This schedule cannot be evaluated: {exc}") from None
    if spec is None:  # schedule_row found it under lock, so only a caller skipping that lands here
        raise NotFound(f"Schedule {schedule_id} does not exist")
    return spec


def _still(spec: oncall.ScheduleSpec, start: datetime, end: datetime, expected: tuple[int, ...], what: str) -> None:
    """Refuse when the stretch is no longer what the page showed (someone swapped it meanwhile)."""
    if any(block.user_ids != expected for block in oncall.final_blocks(spec, start, end)):
        raise Conflict(f"The schedule changed: this stretch is no longer {what} all along. Reload and try again.")


def _rotation_alone(spec: oncall.ScheduleSpec, start: datetime, end: datetime, user_id: int) -> bool:
    """Whether the rotations alone (no overrides) put ``user_id`` on call over the whole stretch."""
    layers_only = dataclasses.replace(spec, overrides=())
    return all(block.user_ids == (user_id,) for block in oncall.final_blocks(layers_only, start, end))


def _write(db: Session, actor: Principal, schedule_id: int, user_id: int, replaces: int | None, start: datetime,
           end: datetime, clipped: bool) -> dict[str, Any]:
    override = create_override(db, actor, schedule_id, {"user_id": user_id, "replaces_user_id": replaces,
                                                        "start": iso(start), "end": iso(end)})
    db.flush()
    # Another override starting inside the stretch would still win over this one part of the way: refuse the
    # half-swap (the caller's transaction rolls back) rather than leave a shift that is not what was asked.
    blocks = oncall.final_blocks(_spec(db, schedule_id, start, end), start, end)
    if any(block.user_ids != (user_id,) for block in blocks):
        raise Conflict("Another override covers part of this shift, so it cannot be swapped as a whole; nothing "
                       "was changed. Ask an admin.")
    return {"override": override, "schedule_id": schedule_id, "user_id": user_id, "start": iso(start),
            "end": iso(end), "clipped": clipped}
