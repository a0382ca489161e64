"""The live incident dashboard's state: the viewer's filters, the rows they see, and what they do to them.

Live: the page follows live changes on load (`live.pages`); for each batch its web process calls
`_on_live`, which re-reads this viewer's own view (same filters, as many rows as shown) and highlights the rows the batch
touched. On every socket (re)connect Reflex runs `load` again, and a tab coming back into view refreshes, so a
phone that slept catches up at once.
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from opsknight.admin import AdminError, incident_views
from opsknight.admin import incidents as incident_admin
from opsknight.permissions import Permission
from opsknight.live.pages import LivePage
from opsknight.state.admin_call import admin_call
from opsknight.state.auth import AuthState
from opsknight.state.guard import actor, guarded
from opsknight.state.incident_views import VIA, Choice, IncidentRow, act, choices, incident_row, local, now

PAGE = 50
MAX_SHOWN = incident_views.MAX_LIMIT


# A live batch makes every open dashboard re-read its view at once, and most look at the same one (the open
# incidents, no filter). Pages read for the same feed version with the same filter and size are shared within a
# web process: read after the batch committed (it is published after commit), each is as fresh as the others.
# Measured with 50 dashboards (bench/live.py): without it every session ran its own list and count queries.
_VERSIONS_KEPT = 4
_shared: dict[tuple, asyncio.Task] = {}


async def _page_for_version(flt: incident_views.IncidentFilter, limit: int,
                            version: int) -> incident_views.IncidentPage:
    loop = asyncio.get_running_loop()
    key = (version, flt, limit, actor().user_id if flt.mine else None)
    task = _shared.get(key)
    if task is None or task.get_loop() is not loop:
        task = _shared[key] = loop.create_task(admin_call(incident_views.list_incidents, flt, limit=limit))
        for old in [k for k in _shared if k[0] <= version - _VERSIONS_KEPT]:
            del _shared[old]
    return await asyncio.shield(task)


class DashboardState(LivePage, AuthState):
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
    updated_at: str = ""  # when this view was last read, in the viewer's zone

    def _filter(self) -> incident_views.IncidentFilter:
        def number(value: str) -> int | None:
            return int(value) if value.isdigit() else None

        return incident_views.IncidentFilter(view=self.view, service_id=number(self.service_id),
                                             team_id=number(self.team_id), urgency=self.urgency or None,
                                             mine=self.mine, text=self.search)

    async def _refresh(self, changed: set[int] | None = None, version: int | None = None) -> None:
        """Re-read the view, as many rows as are shown; highlight the rows `changed` names. With the feed's
        batch's `version`, a page another dashboard of this process read for that version is reused."""
        principal = actor()
        limit = min(max(PAGE, len(self.rows)), MAX_SHOWN)
        if version is None:
            page = await admin_call(incident_views.list_incidents, self._filter(), limit=limit)
        else:
            page = await _page_for_version(self._filter(), limit, version)
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
        """On load and on every socket (re)connect: follow live changes, then read the view afresh."""
        self._follow_live()
        found = await choices()
        self.services, self.teams = found["services"], found["teams"]
        self.loaded = False
        await self._refresh()

    async def _on_live(self, version: int, changed: set[int] | None) -> None:
        if self.loaded:
            await self._refresh(changed, version)

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
        page = await admin_call(incident_views.list_incidents, self._filter(), cursor=self.next_cursor, limit=PAGE)
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

    def _mark(self, incident_id: int, status: str) -> None:
        """Show a committed change on its row at once; the re-read that follows brings the rest."""
        self.rows = [dataclasses.replace(row, status=status, highlight=True) if row.id == incident_id else row
                     for row in self.rows]

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def acknowledge(self, incident_id: int):
        toast, done = await act(incident_admin.acknowledge, incident_id, done="Acknowledged: paging stopped")
        if done:
            self._mark(incident_id, "acknowledged")
        yield toast
        await self._refresh({incident_id})

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def resolve(self, incident_id: int):
        toast, done = await act(incident_admin.resolve, incident_id, None, done="Resolved")
        if done:
            self._mark(incident_id, "resolved")
        yield toast
        await self._refresh({incident_id})

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
                    fn(principal, incident_id, *extra, via=VIA)
                    done += 1
                except AdminError as exc:  # one refusal must not stop the rest; each is counted
                    skipped.append(exc.message)

        await asyncio.to_thread(run_all)
        self.selected = []
        await self._refresh(set(ids))
        past = {"acknowledge": "acknowledged", "resolve": "resolved", "snooze": "snoozed for 1 h"}[action]
        if skipped:
            return rx.toast.warning(f"{done} {past}; {len(skipped)} not: {skipped[0]}")
        return rx.toast.success(f"{done} {past}")
