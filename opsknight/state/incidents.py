"""The live incident dashboard's state: the viewer's filters, the rows they see, and what they do to them.

Live: the page links to the shared `IncidentFeed` on load; when its version moves, `on_feed` re-reads this
viewer's own view (same filters, as many rows as shown) and highlights the rows the batch touched. On every
socket (re)connect Reflex runs `load` again, and a tab coming back into view refreshes, so a phone that slept
catches up at once.
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from opsknight.admin import incident_views
from opsknight.admin import incidents as incident_admin
from opsknight.db import session_scope
from opsknight.permissions import Permission
from opsknight.state import feed
from opsknight.state.auth import AuthState
from opsknight.state.guard import actor, guarded
from opsknight.state.incident_views import IncidentRow, act, incident_row, local, now

PAGE = 50
MAX_SHOWN = incident_views.MAX_LIMIT


@dataclasses.dataclass
class Choice:
    id: str = ""
    name: str = ""


def _choices(principal) -> dict[str, list[Choice]]:
    with session_scope() as db:
        found = incident_views.filter_choices(db, principal)
    return {kind: [Choice(str(i), name) for i, name in pairs] for kind, pairs in found.items()}


def _page(principal, flt: incident_views.IncidentFilter, limit: int,
          cursor: int | None = None) -> incident_views.IncidentPage:
    with session_scope() as db:
        return incident_views.list_incidents(db, principal, flt, cursor=cursor, limit=limit)


class DashboardState(AuthState):
    view: str = "open"
    service_id: str = ""
    team_id: str = ""
    urgency: str = ""
    mine: bool = False
    search: str = ""
    rows: list[IncidentRow] = []
    counts: dict[str, int] = {}
    next_cursor: int = 0  # 0: no more pages
    selected: list[int] = []
    services: list[Choice] = []
    teams: list[Choice] = []
    loaded: bool = False
    seen_version: int = -1
    updated_at: str = ""  # when this view was last read, in the viewer's zone

    def _filter(self) -> incident_views.IncidentFilter:
        def number(value: str) -> int | None:
            return int(value) if value.isdigit() else None

        return incident_views.IncidentFilter(view=self.view, service_id=number(self.service_id),
                                             team_id=number(self.team_id), urgency=self.urgency or None,
                                             mine=self.mine, text=self.search)

    async def _refresh(self, changed: set[int] | None = None) -> None:
        """Re-read the view, as many rows as are shown; highlight the rows `changed` names."""
        principal = actor()
        limit = min(max(PAGE, len(self.rows)), MAX_SHOWN)
        page = await asyncio.to_thread(_page, principal, self._filter(), limit)
        at = now()
        before = {row.id: row.status for row in self.rows}
        self.rows = [incident_row(r, principal.time_zone, at,
                                  highlight=self.loaded and (changed is None and before.get(r["id"]) != r["status"]
                                                             or changed is not None and r["id"] in changed))
                     for r in page.rows]
        self.counts, self.next_cursor = page.counts, page.next_cursor or 0
        shown = {row.id for row in self.rows}
        self.selected = [i for i in self.selected if i in shown]
        self.updated_at = local(at.isoformat(), principal.time_zone, "%H:%M:%S")
        self.loaded = True

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        """On load and on every socket (re)connect: follow the feed, then read the view afresh."""
        await feed.follow(self)
        self.seen_version = (await self.get_state(feed.IncidentFeed)).version
        choices = await asyncio.to_thread(_choices, actor())
        self.services, self.teams = choices["services"], choices["teams"]
        self.loaded = False
        await self._refresh()

    @rx.event
    @guarded(Permission.READ)
    async def on_feed(self, version: int, changed: str):
        """The feed moved: re-read this viewer's view (once per version, whatever mounts twice)."""
        if version <= self.seen_version or not self.loaded:
            return
        self.seen_version = version
        await self._refresh(feed.changed_ids(changed))

    @rx.event
    @guarded(Permission.READ)
    async def on_visibility(self, hidden: bool):
        """A tab coming back into view (a phone woken up) may have missed updates while asleep."""
        if not hidden and self.loaded:
            await self._refresh()

    @rx.event
    @guarded(Permission.READ)
    async def set_filter(self, name: str, value: str):
        if name == "view" and value in incident_views.VIEWS:
            self.view = value
        elif name in ("service_id", "team_id", "urgency", "search"):
            setattr(self, name, str(value)[:200])
        elif name == "mine":
            self.mine = value in (True, "true", "on")
        self.rows, self.selected, self.loaded = [], [], False
        await self._refresh()

    @rx.event
    @guarded(Permission.READ)
    async def clear_filters(self):
        self.service_id = self.team_id = self.urgency = self.search = ""
        self.mine, self.rows, self.selected, self.loaded = False, [], [], False
        await self._refresh()

    @rx.event
    @guarded(Permission.READ)
    async def load_more(self):
        if not self.next_cursor:
            return
        principal = actor()
        page = await asyncio.to_thread(_page, principal, self._filter(), PAGE, self.next_cursor)
        at = now()
        self.rows = self.rows + [incident_row(r, principal.time_zone, at) for r in page.rows]
        self.next_cursor = page.next_cursor or 0 if len(self.rows) < MAX_SHOWN else 0

    @rx.event
    @guarded(Permission.READ)
    async def toggle_selected(self, incident_id: int):
        self.selected = [i for i in self.selected if i != incident_id] if incident_id in self.selected \
            else self.selected + [incident_id]

    @rx.event
    @guarded(Permission.READ)
    async def select_all(self, on: bool):
        self.selected = [row.id for row in self.rows if row.status != "resolved"] if on else []

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def acknowledge(self, incident_id: int):
        toast = await act(incident_admin.acknowledge, incident_id, done="Acknowledged: paging stopped")
        await self._refresh({incident_id})
        return toast

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def resolve(self, incident_id: int):
        toast = await act(incident_admin.resolve, incident_id, None, done="Resolved")
        await self._refresh({incident_id})
        return toast

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def bulk(self, action: str):
        """Acknowledge, resolve or snooze (1 h) every selected incident; one toast sums it up."""
        chosen = {"acknowledge": (incident_admin.acknowledge, ()), "resolve": (incident_admin.resolve, (None,)),
                  "snooze": (incident_admin.snooze, ({"minutes": 60},))}.get(action)
        if chosen is None or not self.selected:
            return
        fn, extra = chosen
        principal, ids, done, skipped = actor(), list(self.selected), 0, []

        def run_all() -> None:
            nonlocal done
            for incident_id in ids:
                try:
                    fn(principal, incident_id, *extra, via="web")
                    done += 1
                except Exception as exc:  # noqa: BLE001 - one refusal must not stop the rest; each is reported
                    skipped.append(getattr(exc, "message", str(exc)))

        await asyncio.to_thread(run_all)
        self.selected = []
        await self._refresh(set(ids))
        past = {"acknowledge": "acknowledged", "resolve": "resolved", "snooze": "snoozed for 1 h"}[action]
        if skipped:
            return rx.toast.warning(f"{done} {past}; {len(skipped)} not: {skipped[0]}")
        return rx.toast.success(f"{done} {past}")
