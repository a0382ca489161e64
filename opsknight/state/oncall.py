"""State of ``/oncall``: am I on call, until when, my shifts, everyone's, the brief, and taking or giving a shift.

Reads go through ``admin.my_oncall`` and writes through ``admin.shift_swaps`` (which create the override with
``schedule_overrides.create_override``: its permission rule and its audit entry). The swaps name a shift the page
holds server-side (by schedule and start), never times typed by the browser; the admin layer checks again that
the stretch is still what it was. Times are shown in the viewer's own time zone.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import reflex as rx

from opsknight.admin import AdminError, my_oncall, shift_swaps
from opsknight.engine import clock
from opsknight.permissions import Permission, allowed
from opsknight.state.admin_call import admin_call
from opsknight.state.auth import AuthState
from opsknight.state.guard import actor, guarded
from opsknight.state.oncall_views import (
    BriefIncident,
    NowRow,
    ScheduleCard,
    ShiftCard,
    brief_incident,
    now_rows,
    schedule_card,
    shift_card,
    span,
    until_text,
    viewer_zone,
    when,
)


class OnCallState(AuthState):
    loaded: bool = False
    viewer_tz: str = "UTC"
    on_call: bool = False
    until: str = ""  # "until today 21:00 (in 5 h 12 min)"; "" when not on call through a schedule
    next_shift: str = ""  # when not on call: "Primary, tomorrow 09:00 (in 7 h)"
    now_schedules: list[NowRow] = []
    now_policies: list[NowRow] = []
    window_start: str = ""  # the 14 days the shifts cover, UTC ISO (what /final is asked for in the tests)
    window_end: str = ""
    shifts: list[ShiftCard] = []
    everyone: list[ScheduleCard] = []
    brief_title: str = ""
    brief_when: str = ""
    brief_incidents: list[BriefIncident] = []
    brief_more: int = 0  # open incidents beyond those listed
    brief_snoozes: list[BriefIncident] = []
    can_take: bool = False
    can_give_away: bool = False
    give_away_reason: str = ""
    error: str = ""
    notice: str = ""

    async def _reload(self) -> None:
        principal = actor()
        now = clock.now()
        tz = viewer_zone(principal.time_zone)
        data = await admin_call(my_oncall.my_oncall, now)
        names = {u["id"]: u["name"] for u in data["users"]}
        self.viewer_tz, self.on_call = tz, data["now"]["on_call"]
        self.now_schedules, self.now_policies = now_rows(data, tz, now)
        current = data["now"]["schedules"]
        last = max(current, key=lambda s: s["until"]) if current else None  # on call at least until then
        self.until = until_text(last["until"], last["until_beyond_horizon"], tz, now) if last else ""
        upcoming = [s for s in data["shifts"] if not s["current"]]
        self.next_shift = (f"{upcoming[0]['schedule_name']}, {when(upcoming[0]['start'], tz, now)} "
                           f"(in {span(datetime.fromisoformat(upcoming[0]['start']) - now)})") if upcoming else ""
        self.window_start, self.window_end = data["at"], data["horizon_end"]
        self.shifts = [shift_card(s, data["give_to"].get(str(s["schedule_id"]), []), tz, now)
                       for s in data["shifts"]]
        self.everyone = [schedule_card(e, names, principal.user_id, tz, now) for e in data["everyone"]]
        self._brief(data["brief"], tz, now)
        self.can_take = allowed(principal, Permission.TAKE_SHIFT)
        self.can_give_away, self.give_away_reason = data["can_give_away"], data["give_away_reason"]
        self.loaded = True

    def _brief(self, brief: dict, tz: str, now: datetime) -> None:
        shift = brief["shift"]
        if shift is None:
            self.brief_title, self.brief_when = "No shift in the next 14 days", ""
        else:
            self.brief_title = f"{'Your current shift' if shift['current'] else 'Your next shift'} · " \
                               f"{shift['schedule_name']}"
            self.brief_when = f"{when(shift['start'], tz, now)} → {when(shift['end'], tz, now)}"
        self.brief_incidents = [brief_incident(i, tz, now) for i in brief["incidents"]]
        self.brief_more = max(0, brief["open_count"] - len(brief["incidents"]))
        self.brief_snoozes = [brief_incident(i, tz, now, expiring=True) for i in brief["expiring_snoozes"]]

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self.error, self.notice = "", ""
        await self._reload()

    @rx.event
    @guarded(Permission.READ)  # only this page's own form field
    async def pick_colleague(self, key: str, user_id: str):
        self.shifts = [dataclasses.replace(s, pick=str(user_id)) if s.key == key else s for s in self.shifts]

    @rx.event
    @guarded(Permission.TAKE_SHIFT)
    async def take_shift(self, schedule_id: int, start: str):
        """Take the shown block of ``schedule_id`` starting at ``start`` (someone else's, or a gap)."""
        card = next((c for c in self.everyone if str(c.id) == str(schedule_id)), None)
        block = next((b for b in card.blocks if b.start == start), None) if card else None
        if block is None or block.mine:
            self.error, self.notice = "That shift is not on this page any more: reload and try again.", ""
            return
        body = {"start": block.start, "end": block.end, "user_id": block.user_id or None}
        await self._swap(shift_swaps.take_shift, card.id, body, f"You are on call on {card.name}")

    @rx.event
    @guarded(Permission.TAKE_SHIFT)
    async def give_shift(self, key: str):
        """Give one of my shifts to the colleague picked for it (admins; the admin layer refuses responders)."""
        shift = next((s for s in self.shifts if s.key == key), None)
        if shift is None:
            self.error, self.notice = "That shift is not on this page any more: reload and try again.", ""
            return
        if not shift.pick:
            self.error, self.notice = "Pick a colleague to give this shift to.", ""
            return
        body = {"start": shift.start, "end": shift.end, "to_user_id": shift.pick}
        name = next((c.label for c in shift.colleagues if c.value == shift.pick), "your colleague")
        await self._swap(shift_swaps.give_shift, shift.schedule_id, body, f"{name} is on call on {shift.schedule}")

    async def _swap(self, fn, schedule_id: int, body: dict, done: str) -> None:
        try:
            result = await admin_call(fn, schedule_id, body)
        except AdminError as exc:
            self.error, self.notice = exc.message, ""
            return
        now, tz = clock.now(), viewer_zone(actor().time_zone)
        clipped = " (shortened to what you may take yourself)" if result["clipped"] else ""
        await self._reload()
        self.error = ""
        self.notice = f"{done} {when(result['start'], tz, now)} → {when(result['end'], tz, now)}{clipped}."

