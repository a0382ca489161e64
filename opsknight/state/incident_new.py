"""/incidents/new: open an incident by hand. It pages like any alert (`admin.incidents.open_incident`: the same
ingest, dedup and outbox as a monitor's alert)."""

from __future__ import annotations

import asyncio

import reflex as rx

from opsknight.admin import AdminError
from opsknight.admin import incidents as incident_admin
from opsknight.permissions import Permission
from opsknight.state.auth import AuthState
from opsknight.state.guard import actor, guarded
from opsknight.state.incident_views import VIA, Choice, choices


class NewIncidentState(AuthState):
    services: list[Choice] = []
    error: str = ""
    busy: bool = False

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self.services, self.error = (await choices())["services"], ""

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def submit(self, form: dict):
        severity = {"high": "critical", "low": "warning"}.get(str(form.get("urgency", "")), "")
        data = {"service_id": str(form.get("service_id", "")) or 0, "title": str(form.get("title", "")).strip(),
                "description": str(form.get("description", "")), "severity": severity or "critical"}
        self.busy = True
        yield
        try:
            incident_id = await asyncio.to_thread(incident_admin.open_incident, actor(), data, via=VIA)
        except AdminError as exc:
            self.error, self.busy = exc.message, False
            return
        self.error, self.busy = "", False
        yield rx.redirect(f"/incidents/{incident_id}")
        yield rx.toast.success("Incident opened: paging has started")
