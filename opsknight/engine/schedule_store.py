"""The I/O edge of the schedule math: read a schedule's rows and build the pure ``oncall.ScheduleSpec``.

Everything about *meaning* lives in ``opsknight.engine.oncall``; this module only maps rows to its types:

* ``ScheduleLayer.position`` -> ``Layer.priority`` (higher wins). Layers are ordered by ``(position, id)``, so of
  two layers with the same position the newer one (higher id) wins, as ``oncall`` documents for ties.
* Members are ordered by ``ScheduleLayerMember.position``: the rotation order.
* ``rotation_start`` is the anchor *and* the handoff time (see ``oncall``); ``handoff_time`` is informational.
  A day/week layer whose ``handoff_time`` disagrees with its ``rotation_start`` is logged (the writer forgot to
  derive it with ``oncall.handoff_time_of``) but the answer follows ``rotation_start``.
* Restrictions JSON is parsed by ``oncall.restriction_from_json``; a malformed one raises ``ValueError`` naming
  the layer rather than guessing: a guess would be a silently wrong "who is on call".
* Overrides are ordered by ``(starts_at, id)``: on equal starts the newer override wins.

User status (disabled users) is not filtered here: the schedule says who is on call, dispatch decides who can be
paged, and a disabled user on call is something the UI must show, not hide.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, select

from opsknight.engine import oncall
from opsknight.models import Schedule, ScheduleLayer, ScheduleLayerMember, ScheduleOverride

log = logging.getLogger(__name__)


def load_spec(db: Session, schedule_id: int, start: datetime | None = None,
              end: datetime | None = None) -> oncall.ScheduleSpec | None:
    """The schedule as a pure spec, or None if there is no such schedule.

    Only overrides overlapping ``[start, end)`` are read (either bound may be omitted; both omitted = all of
    them); layers are always read whole, since a layer's shifts depend on its ``rotation_start`` however far back.
    """
    for value, what in ((start, "start"), (end, "end")):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{what} must be a timezone-aware datetime")
    schedule = db.get(Schedule, schedule_id)
    if schedule is None:
        return None
    rows = db.exec(select(ScheduleLayer).where(ScheduleLayer.schedule_id == schedule_id)
                   .order_by(ScheduleLayer.position, ScheduleLayer.id)).all()
    members: dict[int, list[int]] = {row.id: [] for row in rows}
    if rows:
        for member in db.exec(select(ScheduleLayerMember).where(ScheduleLayerMember.layer_id.in_(list(members)))
                              .order_by(ScheduleLayerMember.layer_id, ScheduleLayerMember.position)).all():
            members[member.layer_id].append(member.user_id)

    query = select(ScheduleOverride).where(ScheduleOverride.schedule_id == schedule_id)
    if start is not None:
        query = query.where(ScheduleOverride.ends_at > start)
    if end is not None:
        query = query.where(ScheduleOverride.starts_at < end)
    overrides = db.exec(query.order_by(ScheduleOverride.starts_at, ScheduleOverride.id)).all()
    return spec_from_rows(schedule.time_zone, [(row, members[row.id]) for row in rows], overrides)


def spec_from_rows(time_zone: str, layers: Sequence[tuple[ScheduleLayer, Sequence[int]]],
                   overrides: Sequence[ScheduleOverride]) -> oncall.ScheduleSpec:
    """The pure spec for rows already in evaluation order: layers by ``(position, id)``, each with its members'
    user ids in rotation order; overrides by ``(starts_at, id)``. :func:`load_spec` builds every saved schedule's
    spec here, and the admin preview builds an unsaved definition's spec here too, so both answer alike."""
    return oncall.ScheduleSpec(
        time_zone=time_zone,
        layers=tuple(_layer(row, list(members), time_zone) for row, members in layers),
        overrides=tuple(oncall.Override(user_id=o.user_id, start=o.starts_at, end=o.ends_at,
                                        replaces_user_id=o.replaces_user_id) for o in overrides),
    )


def oncall_user_ids(db: Session, schedule_id: int, at: datetime) -> tuple[int, ...]:
    """Who is on call on the schedule at ``at`` (``()`` = nobody). LookupError if the schedule does not exist:
    a missing schedule is a configuration error the caller must see, not an empty rota."""
    if at.tzinfo is None:
        raise ValueError("at must be a timezone-aware datetime")
    spec = load_spec(db, schedule_id, at, at + timedelta(microseconds=1))  # overrides in effect at `at`
    if spec is None:
        raise LookupError(f"schedule {schedule_id} does not exist")
    return oncall.on_call_at(spec, at)


def _layer(row: ScheduleLayer, members: list[int], time_zone: str) -> oncall.Layer:
    try:
        restrictions = tuple(oncall.restriction_from_json(r) for r in row.restrictions or [])
    except ValueError as exc:
        raise ValueError(f"schedule layer {row.id} ({row.name!r}) has an invalid restriction: {exc}") from None
    if row.rotation_unit != "hour" and row.handoff_time != oncall.handoff_time_of(row.rotation_start, time_zone):
        log.warning("schedule layer %s: handoff_time %s disagrees with rotation_start %s (%s); "
                    "rotation_start wins", row.id, row.handoff_time, row.rotation_start.isoformat(), time_zone)
    return oncall.Layer(id=row.id, priority=row.position, rotation_start=row.rotation_start, unit=row.rotation_unit,
                        length=row.rotation_length, members=tuple(members), restrictions=restrictions,
                        ends_at=row.ends_at)
