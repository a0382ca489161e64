"""State of ``/schedules/[schedule_id]``: one schedule's details, its layers being edited, its overrides, and the
timeline of the final schedule and of each layer.

Every change goes through the admin layer (``opsknight.admin.schedules`` and ``.schedule_overrides``, the
functions the REST API calls). Layer edits stay in this state until "Save layers", which replaces them all at
once; "Preview" evaluates the unsaved edits through ``admin.schedules.preview``, the code path saved schedules
take. Timelines are drawn in the signed-in user's own time zone (``users.time_zone``); the layer editor speaks
the schedule's time zone, as handoffs do; override times are typed in the viewer's zone, as the page shows them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import reflex as rx
from sqlmodel import select

from opsknight.accounts import Principal
from opsknight.admin import AdminError, Invalid
from opsknight.admin import schedule_overrides, schedules as admin
from opsknight.admin.schedule_input import local_instant
from opsknight.db import session_scope
from opsknight.engine import clock
from opsknight.models import Team, UserStatus
from opsknight.permissions import Permission, allowed
from opsknight.state.auth import AuthState
from opsknight.state.guard import actor, guarded
from opsknight.state.schedule_forms import (
    LAYER_FIELDS,
    WEEKS,
    Choice,
    LayerEdit,
    MemberEdit,
    OverrideRow,
    RestrictionEdit,
    TimelineView,
    all_people,
    iso,
    layer_definition,
    layer_edit,
    local_text,
    timeline_views,
    timeline_window,
    viewer_time_zone,
)


def _load(principal: Principal, schedule_id: int, weeks: str) -> dict[str, Any]:
    with session_scope() as db:
        schedule = admin.get_schedule(db, principal, schedule_id)
        people = all_people(db)
        viewer_tz = viewer_time_zone(db, principal)
        start, end, days = timeline_window(viewer_tz, weeks)
        timeline = admin.saved_timeline(db, principal, schedule_id, start, end)
        overrides = schedule_overrides.list_overrides(db, principal, schedule_id, clock.now())
        teams = [Choice(str(t.id), t.name) for t in db.exec(select(Team).order_by(Team.name))]
    users = {u.id: u for u in people}
    may_configure = allowed(principal, Permission.CONFIGURE)
    active = [Choice(str(u.id), u.name) for u in people if u.status == UserStatus.ACTIVE]
    return {
        "schedule": schedule, "viewer_tz": viewer_tz, "teams": teams, "people": active,
        "override_people": active if may_configure else [c for c in active if c.value == str(principal.user_id)],
        "rotation_people": [Choice(str(u), users[u].name) for u in dict.fromkeys(
            m for layer in schedule["layers"] for m in layer["members"]) if u in users],
        "layers": [layer_edit(layer, schedule["time_zone"], users) for layer in schedule["layers"]],
        "timelines": timeline_views(timeline, viewer_tz, days), "start": start, "end": end,
        "overrides": [OverrideRow(id=o["id"], user=o["user_name"] or "?", replaces=o["replaces_user_name"] or "",
                                  start=local_text(o["start"], viewer_tz, "%a %d %b %Y %H:%M"),
                                  end=local_text(o["end"], viewer_tz, "%a %d %b %Y %H:%M"),
                                  mine=o["user_id"] == principal.user_id) for o in overrides],
    }


class ScheduleEditState(AuthState):
    sid: int = 0
    name: str = ""
    description: str = ""
    time_zone: str = "UTC"
    team_id: str = ""
    updated_at: str = ""
    layers: list[LayerEdit] = []
    rev: int = 0  # bumped whenever layers are reloaded or re-ordered: remounts the uncontrolled inputs
    dirty: bool = False
    people: list[Choice] = []
    override_people: list[Choice] = []  # whom this viewer may put on call: anyone for admins, else themselves
    rotation_people: list[Choice] = []  # who an override can stand in for: the saved rotations' members
    teams: list[Choice] = []
    viewer_tz: str = "UTC"
    weeks: str = "1"
    previewing: bool = False
    timelines: list[TimelineView] = []
    window_start: str = ""
    window_end: str = ""
    overrides: list[OverrideRow] = []
    ov_user: str = ""
    ov_replaces: str = ""
    ov_start: str = ""
    ov_end: str = ""
    error: str = ""
    error_fields: list[str] = []
    notice: str = ""

    def _fail(self, exc: AdminError) -> None:
        self.error, self.error_fields, self.notice = exc.message, exc.fields, ""

    def _id_from_url(self) -> int:
        tail = (self.router.url.path or "").rstrip("/").rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() and len(tail) < 11 else 0

    async def _reload(self) -> None:
        try:
            data = await asyncio.to_thread(_load, actor(), self.sid, self.weeks)
        except AdminError as exc:
            self._fail(exc)
            self.layers, self.timelines, self.overrides = [], [], []
            return
        schedule = data["schedule"]
        self.name, self.description, self.time_zone = schedule["name"], schedule["description"], schedule["time_zone"]
        self.team_id = str(schedule["team_id"] or "")
        self.updated_at = schedule["updated_at"] or ""
        self.viewer_tz, self.teams, self.people = data["viewer_tz"], data["teams"], data["people"]
        self.override_people, self.rotation_people = data["override_people"], data["rotation_people"]
        self.layers, self.overrides = data["layers"], data["overrides"]
        self.timelines, self.window_start, self.window_end = data["timelines"], iso(data["start"]), iso(data["end"])
        if not self.ov_user and self.override_people:
            self.ov_user = self.override_people[0].value
        self.previewing, self.dirty, self.rev = False, False, self.rev + 1

    def _definition(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "time_zone": self.time_zone,
                "team_id": self.team_id or None, "updated_at": self.updated_at or None,
                "layers": [layer_definition(layer, i, self.time_zone) for i, layer in enumerate(self.layers)]}

    def _edit(self, i: int, change) -> None:
        layers = list(self.layers)
        if 0 <= i < len(layers):
            layers[i] = change(layers[i])
            self.layers, self.dirty = layers, True

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self.sid, self.error, self.error_fields, self.notice, self.ov_user = self._id_from_url(), "", [], "", ""
        await self._reload()

    @rx.event
    @guarded(Permission.READ)
    async def set_weeks(self, weeks: str):
        self.weeks = weeks if weeks in WEEKS else "1"
        if self.previewing:
            await self._preview()
        else:
            await self._reload_timeline()

    async def _reload_timeline(self) -> None:
        principal, sid, viewer_tz, weeks = actor(), self.sid, self.viewer_tz, self.weeks

        def work():
            with session_scope() as db:
                start, end, days = timeline_window(viewer_tz, weeks)
                return timeline_views(admin.saved_timeline(db, principal, sid, start, end), viewer_tz, days), start, end

        try:
            views, start, end = await asyncio.to_thread(work)
        except AdminError as exc:
            self._fail(exc)
            return
        self.timelines, self.window_start, self.window_end = views, iso(start), iso(end)

    async def _preview(self) -> None:
        principal, sid, viewer_tz, weeks = actor(), self.sid, self.viewer_tz, self.weeks

        def work(definition: dict[str, Any]):
            with session_scope() as db:
                start, end, days = timeline_window(viewer_tz, weeks)
                timeline = admin.preview(db, principal, {**definition, "schedule_id": sid, "start": start, "end": end})
                return timeline_views(timeline, viewer_tz, days), start, end

        try:
            views, start, end = await asyncio.to_thread(work, self._definition())
        except AdminError as exc:
            self._fail(exc)
            return
        self.timelines, self.window_start, self.window_end = views, iso(start), iso(end)
        self.previewing, self.error, self.error_fields = True, "", []

    # --- the schedule's own fields ---

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def save_details(self, form: dict):
        principal, sid = actor(), self.sid
        change = {"name": form.get("name", ""), "description": form.get("description", ""),
                  "time_zone": (form.get("time_zone") or "").strip(), "team_id": form.get("team_id") or None,
                  "updated_at": self.updated_at or None}

        def work():
            with session_scope() as db:
                admin.update_schedule(db, principal, sid, change)

        try:
            await asyncio.to_thread(work)
        except AdminError as exc:
            self._fail(exc)
            return
        await self._reload()
        self.error, self.error_fields, self.notice = "", [], "Schedule details saved."

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def delete_schedule(self):
        principal, sid = actor(), self.sid

        def work():
            with session_scope() as db:
                admin.delete_schedule(db, principal, sid)

        try:
            await asyncio.to_thread(work)
        except AdminError as exc:
            self._fail(exc)
            return
        return rx.redirect("/schedules")

    # --- layer edits (local until saved) ---

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def add_layer(self):
        today = clock.now().astimezone(ZoneInfo(self.time_zone)).date()
        top = max([int(layer.priority) for layer in self.layers if layer.priority.isdigit()] or [-1])
        self.layers = [*self.layers, LayerEdit(
            name=f"Layer {len(self.layers) + 1}", priority=str(min(top + 1, 1000)), unit="week",
            shift_length="1", start_date=today.isoformat(), handoff_time="09:00", ends_at="", anchor="", members=[],
            restrictions=[])]
        self.dirty, self.rev = True, self.rev + 1

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def remove_layer(self, i: int):
        self.layers = [layer for n, layer in enumerate(self.layers) if n != i]
        self.dirty, self.rev = True, self.rev + 1

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_layer_field(self, i: int, field: str, value: str):
        if field not in LAYER_FIELDS:
            return
        moved = field in ("start_date", "handoff_time")

        def change(layer: LayerEdit) -> LayerEdit:
            if getattr(layer, field) == value:
                return layer
            return dataclasses.replace(layer, **{field: value}, anchor="" if moved else layer.anchor)

        self._edit(i, change)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def add_member(self, i: int, user_id: str):
        person = next((p for p in self.people if p.value == user_id), None)
        if person is not None:
            self._edit(i, lambda layer: dataclasses.replace(
                layer, members=[*layer.members, MemberEdit(int(person.value), person.label, False)]))

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def remove_member(self, i: int, j: int):
        self._edit(i, lambda layer: dataclasses.replace(
            layer, members=[m for n, m in enumerate(layer.members) if n != j]))

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def move_member(self, i: int, j: int, step: int):
        def change(layer: LayerEdit) -> LayerEdit:
            members, k = list(layer.members), j + step
            if 0 <= j < len(members) and 0 <= k < len(members):
                members[j], members[k] = members[k], members[j]
            return dataclasses.replace(layer, members=members)

        self._edit(i, change)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def add_restriction(self, i: int):
        self._edit(i, lambda layer: dataclasses.replace(
            layer, restrictions=[*layer.restrictions, RestrictionEdit([True] * 5 + [False] * 2, "09:00", "17:00")]))
        self.rev += 1

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def remove_restriction(self, i: int, k: int):
        self._edit(i, lambda layer: dataclasses.replace(
            layer, restrictions=[r for n, r in enumerate(layer.restrictions) if n != k]))
        self.rev += 1

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def toggle_day(self, i: int, k: int, day: int):
        def change(layer: LayerEdit) -> LayerEdit:
            restrictions = list(layer.restrictions)
            if 0 <= k < len(restrictions) and 0 <= day < 7:
                days = list(restrictions[k].days)
                days[day] = not days[day]
                restrictions[k] = dataclasses.replace(restrictions[k], days=days)
            return dataclasses.replace(layer, restrictions=restrictions)

        self._edit(i, change)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_restriction_time(self, i: int, k: int, edge: str, value: str):
        def change(layer: LayerEdit) -> LayerEdit:
            restrictions = list(layer.restrictions)
            if 0 <= k < len(restrictions) and edge in ("start", "end"):
                restrictions[k] = dataclasses.replace(restrictions[k], **{edge: value})
            return dataclasses.replace(layer, restrictions=restrictions)

        self._edit(i, change)

    @rx.event
    @guarded(Permission.READ)
    async def preview(self):
        await self._preview()

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def save_layers(self):
        principal, sid = actor(), self.sid

        def work(definition: dict[str, Any]):
            with session_scope() as db:
                admin.replace_schedule(db, principal, sid, definition)

        try:
            await asyncio.to_thread(work, self._definition())
        except AdminError as exc:
            self._fail(exc)
            return
        await self._reload()
        self.error, self.error_fields, self.notice = "", [], "Layers saved."

    @rx.event
    @guarded(Permission.READ)
    async def discard(self):
        self.error, self.error_fields, self.notice = "", [], ""
        await self._reload()

    # --- overrides ---

    @rx.event
    @guarded(Permission.TAKE_SHIFT)
    async def set_override_field(self, field: str, value: str):
        if field in ("ov_user", "ov_replaces", "ov_start", "ov_end"):
            setattr(self, field, value)

    @rx.event
    @guarded(Permission.TAKE_SHIFT)
    async def add_override(self):
        principal, sid, viewer_tz = actor(), self.sid, self.viewer_tz

        def instant(value: str, field: str) -> str:
            """A datetime-local value, read in the viewer's own time zone (the one the page shows)."""
            try:
                return local_instant(datetime.fromisoformat(value), viewer_tz).isoformat()
            except ValueError as exc:
                message = str(exc) if value else "required"
                raise Invalid(f"{field}: {message}", [f"{field}: {message}"]) from None

        def work(user_id: str, replaces: str, start: str, end: str):
            body = {"user_id": user_id or None, "replaces_user_id": replaces or None,
                    "start": instant(start, "start"), "end": instant(end, "end")}
            with session_scope() as db:
                schedule_overrides.create_override(db, principal, sid, body)

        try:
            await asyncio.to_thread(work, self.ov_user, self.ov_replaces, self.ov_start, self.ov_end)
        except AdminError as exc:
            self._fail(exc)
            return
        previewing = self.previewing
        await self._reload_overrides()
        self.error, self.error_fields, self.notice = "", [], "Override added."
        if previewing:
            await self._preview()

    @rx.event
    @guarded(Permission.TAKE_SHIFT)
    async def delete_override(self, override_id: int):
        principal, sid = actor(), self.sid

        def work():
            with session_scope() as db:
                schedule_overrides.delete_override(db, principal, sid, override_id)

        try:
            await asyncio.to_thread(work)
        except AdminError as exc:
            self._fail(exc)
            return
        await self._reload_overrides()
        self.error, self.error_fields, self.notice = "", [], "Override removed."

    async def _reload_overrides(self) -> None:
        """Overrides and the saved timeline again; unsaved layer edits stay as they are."""
        layers, dirty = self.layers, self.dirty
        await self._reload()
        if dirty:
            self.layers, self.dirty = layers, True
