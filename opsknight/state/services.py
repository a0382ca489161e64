"""What the services pages share: a service as the UI shows it, the choices its form offers, and the edit dialog's
state (a mixin, so the list page and the detail page each edit in their own state and reload themselves).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from opsknight.admin import AdminError
from opsknight.admin import services as service_admin
from opsknight.permissions import Permission
from opsknight.state.admin_call import admin_call
from opsknight.state.guard import guarded
from opsknight.state.people import when


@dataclasses.dataclass
class Choice:
    id: str = ""
    name: str = ""


@dataclasses.dataclass
class ServiceRow:
    id: int = 0
    name: str = ""
    description: str = ""
    policy_id: str = ""
    policy_name: str = ""
    team_id: str = ""
    team_name: str = ""
    default_urgency: str = "high"
    urgency_from_severity: bool = True
    maintenance: str = ""  # "" when there is no window
    maintenance_active: bool = False
    open_incidents: int = 0
    integrations: int = 0


def service_row(view: dict[str, Any]) -> ServiceRow:
    window = view["maintenance"]
    label = ""
    if window:
        label = f"until {when(window['until'], '')}" if window["active"] else \
            f"{when(window['start'], '')} – {when(window['until'], '')}"
    policy, team = view["escalation_policy"] or {}, view["team"] or {}
    return ServiceRow(
        id=view["id"], name=view["name"], description=view["description"],
        policy_id=str(policy.get("id", "")), policy_name=policy.get("name", ""),
        team_id=str(team.get("id", "")), team_name=team.get("name", ""),
        default_urgency=view["default_urgency"], urgency_from_severity=view["urgency_from_severity"],
        maintenance=label, maintenance_active=bool(window and window["active"]),
        open_incidents=view["open_incidents"], integrations=view["integrations"],
    )


async def choices() -> tuple[list[Choice], list[Choice]]:
    """(escalation policies, teams) for the service form."""
    found = await admin_call(service_admin.choices)
    return ([Choice(str(p["id"]), p["name"]) for p in found["policies"]],
            [Choice(str(t["id"]), t["name"]) for t in found["teams"]])


def form_values(form: dict[str, Any]) -> dict[str, Any]:
    """The service form's fields as the admin layer takes them (empty selects mean "none")."""
    return {
        "name": form.get("name", ""), "description": form.get("description", ""),
        "escalation_policy_id": form.get("escalation_policy_id") or None, "team_id": form.get("team_id") or None,
        "default_urgency": form.get("default_urgency") or "high",
        "urgency_from_severity": form.get("urgency_from_severity") in ("on", "true", True),
    }


class ServiceEditor(rx.State, mixin=True):
    """The edit dialog: which service, its current values, and the error of the last save."""

    edit_open: bool = False
    editing: ServiceRow = ServiceRow()
    edit_error: str = ""
    policies: list[Choice] = []
    teams: list[Choice] = []

    async def _reload(self) -> None:
        """Refresh what the page shows after a save (each page defines it)."""
        raise NotImplementedError

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def open_edit(self, service: dict):
        self.editing = ServiceRow(**service)
        self.edit_error = ""
        self.edit_open = True

    @rx.event
    @guarded(Permission.READ)  # only closes the dialog
    async def set_edit_open(self, is_open: bool):
        self.edit_open = is_open

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def save_edit(self, form: dict):
        try:
            await admin_call(service_admin.update_service, self.editing.id, form_values(form))
        except AdminError as exc:
            self.edit_error = exc.message
            return
        self.edit_open = False
        await self._reload()
        return rx.toast.success("Service saved")
