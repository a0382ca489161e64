"""State of ``/schedules``: every schedule with who is on call now, and creating a new one."""

from __future__ import annotations

import asyncio

import reflex as rx
from sqlmodel import select

from opsknight.accounts import Principal
from opsknight.admin import AdminError
from opsknight.admin import schedules as admin
from opsknight.db import session_scope
from opsknight.engine import clock, oncall_overview
from opsknight.models import Team
from opsknight.permissions import Permission
from opsknight.state.auth import AuthState
from opsknight.state.guard import actor, guarded
from opsknight.state.schedule_forms import Choice, ScheduleRow


def _list(principal: Principal) -> tuple[list[ScheduleRow], list[Choice]]:
    with session_scope() as db:
        schedules = admin.list_schedules(db, principal)
        now = oncall_overview.overview(db, clock.now())
        teams = [Choice(str(t.id), t.name) for t in db.exec(select(Team).order_by(Team.name))]
    names = {u["id"]: u["name"] for u in now["users"]}
    who = {s["id"]: s for s in now["schedules"]}
    rows = [ScheduleRow(id=s["id"], name=s["name"], time_zone=s["time_zone"], team=s["team_name"] or "",
                        layers=s["layer_count"],
                        on_call=", ".join(names.get(u, "?") for u in who[s["id"]]["user_ids"]) or "Nobody",
                        gap=not who[s["id"]]["user_ids"]) for s in schedules]
    return sorted(rows, key=lambda r: r.name.lower()), teams


def _create(principal: Principal, form: dict) -> int:
    with session_scope() as db:
        return admin.create_schedule(db, principal, {
            "name": form.get("name", ""), "description": form.get("description", ""),
            "time_zone": (form.get("time_zone") or "UTC").strip(), "team_id": form.get("team_id") or None})["id"]


class ScheduleListState(AuthState):
    schedules: list[ScheduleRow] = []
    teams: list[Choice] = []
    error: str = ""

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self.error = ""
        self.schedules, self.teams = await asyncio.to_thread(_list, actor())

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def create(self, form: dict):
        try:
            schedule_id = await asyncio.to_thread(_create, actor(), form)
        except AdminError as exc:
            self.error = exc.message
            return
        return rx.redirect(f"/schedules/{schedule_id}")
