"""What the schedule pages hold and show: form rows for layers, members, windows and overrides, and how they map
to and from the admin layer's definitions (``opsknight.admin.schedule_input``) and to timeline rows."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from opsknight.accounts import Principal
from opsknight.admin import Invalid
from opsknight.admin.schedule_input import local_instant, time_zone_names
from opsknight.admin.schedules import Timeline
from opsknight.components.timeline import TimelineView, day_rows, window
from opsknight.engine import clock
from opsknight.models import User, UserStatus

WEEKS = ("1", "2", "4")
LAYER_FIELDS = frozenset({"name", "priority", "unit", "shift_length", "start_date", "handoff_time", "ends_at"})


@dataclasses.dataclass
class Choice:
    value: str
    label: str


@dataclasses.dataclass
class ScheduleRow:
    id: int
    name: str
    time_zone: str
    team: str
    layers: int
    on_call: str
    gap: bool


@dataclasses.dataclass
class MemberEdit:
    user_id: int
    name: str
    disabled: bool


@dataclasses.dataclass
class RestrictionEdit:
    days: list[bool]  # Monday first
    start: str
    end: str


@dataclasses.dataclass
class LayerEdit:
    name: str
    priority: str
    unit: str
    shift_length: str
    start_date: str  # local date in the schedule's zone
    handoff_time: str
    ends_at: str  # "YYYY-MM-DDTHH:MM" in the schedule's zone, or ""
    anchor: str  # the saved rotation_start (ISO) while start date and handoff time are untouched, else ""
    members: list[MemberEdit]
    restrictions: list[RestrictionEdit]


@dataclasses.dataclass
class OverrideRow:
    id: int
    user: str
    replaces: str
    start: str  # viewer's local time, for reading
    end: str
    mine: bool


def all_people(db: Session) -> list[User]:
    return list(db.exec(select(User).order_by(User.name, User.id)))


def viewer_time_zone(db: Session, principal: Principal) -> str:
    user = db.get(User, principal.user_id)
    name = user.time_zone if user else "UTC"
    return name if name in time_zone_names() else "UTC"


def local_text(value: str | None, tz: str, fmt: str = "%Y-%m-%dT%H:%M") -> str:
    return datetime.fromisoformat(value).astimezone(ZoneInfo(tz)).strftime(fmt) if value else ""


def layer_edit(layer: dict[str, Any], tz: str, users: dict[int, User]) -> LayerEdit:
    restrictions = [RestrictionEdit(days=[r["weekdays"] is None or d in r["weekdays"] for d in range(7)],
                                    start=r["start"], end=r["end"]) for r in layer["restrictions"]]
    members = [MemberEdit(user_id=u, name=users[u].name if u in users else f"user {u}",
                          disabled=u not in users or users[u].status != UserStatus.ACTIVE) for u in layer["members"]]
    return LayerEdit(name=layer["name"], priority=str(layer["priority"]), unit=layer["rotation_unit"],
                     shift_length=str(layer["rotation_length"]),
                     start_date=local_text(layer["rotation_start"], tz, "%Y-%m-%d"), handoff_time=layer["handoff_time"],
                     ends_at=local_text(layer["ends_at"], tz), anchor=layer["rotation_start"], members=members,
                     restrictions=restrictions)


def layer_definition(layer: LayerEdit, i: int, tz: str) -> dict[str, Any]:
    """The admin layer's input for one edited layer (its validation names the fields)."""
    ends_at = None
    if layer.ends_at:
        try:
            ends_at = local_instant(datetime.fromisoformat(layer.ends_at), tz).isoformat()
        except ValueError as exc:
            raise Invalid(f"layers.{i}.ends_at: {exc}", [f"layers.{i}.ends_at: {exc}"]) from None
    start = {"rotation_start": layer.anchor} if layer.anchor else \
        {"rotation_start": layer.start_date, "handoff_time": layer.handoff_time or None}
    return {"name": layer.name, "priority": layer.priority or "0", "rotation_unit": layer.unit,
            "rotation_length": layer.shift_length or "0", **start, "members": [m.user_id for m in layer.members],
            "restrictions": [{"weekdays": None if all(r.days) else [d for d in range(7) if r.days[d]],
                              "start": r.start, "end": r.end} for r in layer.restrictions],
            "ends_at": ends_at}


def timeline_views(timeline: Timeline, viewer_tz: str, days: int) -> list[TimelineView]:
    first_day = timeline.start.astimezone(ZoneInfo(viewer_tz)).date()
    views = [TimelineView("final", "Final schedule", day_rows(timeline.blocks, timeline.user_names, "final",
                                                               first_day, days, viewer_tz))]
    for n, (_, name, blocks) in enumerate(timeline.layers):
        views.append(TimelineView(f"layer-{n}", f"Layer: {name}",
                                  day_rows(blocks, timeline.user_names, f"layer-{n}", first_day, days, viewer_tz)))
    return views


def timeline_window(viewer_tz: str, weeks: str) -> tuple[datetime, datetime, int]:
    days = 7 * int(weeks if weeks in WEEKS else "1")
    today = clock.now().astimezone(ZoneInfo(viewer_tz)).date()
    return *window(today, days, viewer_tz), days


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")

