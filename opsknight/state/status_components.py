"""The status page admin page's state: components in page order, add, edit and remove. Every change goes through
`opsknight.admin.status_page`, which audits it and invalidates the public page's cache."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from opsknight.admin import services as service_admin
from opsknight.admin import status_page
from opsknight.permissions import Permission
from opsknight.state.admin_call import admin_call, attempt
from opsknight.state.auth import AuthState
from opsknight.state.guard import guarded
from opsknight.state.services import Choice

MAX_SERVICES_OFFERED = 500


@dataclasses.dataclass
class ComponentRow:
    id: int = 0
    name: str = ""
    description: str = ""
    position: int = 0
    manual_status: str = ""  # "": derived from incidents
    status: str = "operational"
    service_ids: list[str] = dataclasses.field(default_factory=list)
    service_names: str = ""


def _row(raw: dict[str, Any], names: dict[int, str]) -> ComponentRow:
    return ComponentRow(id=raw["id"], name=raw["name"], description=raw["description"], position=raw["position"],
                        manual_status=raw["manual_status"] or "", status=raw["status"], service_ids=[str(i) for i in raw["service_ids"]],
                        service_names=", ".join(names.get(i, f"#{i}") for i in raw["service_ids"]))


def _values(form: dict[str, Any], services: list[Choice]) -> dict[str, Any]:
    """The form's fields as the admin layer takes them; ticked services arrive as `service-<id>: "on"`."""
    position = str(form.get("position", "")).strip() or "0"
    return {"name": form.get("name", ""), "description": form.get("description", ""),
            "position": int(position) if position.lstrip("-").isdigit() else position,
            "service_ids": [int(c.id) for c in services if form.get(f"service-{c.id}")],
            "manual_status": form.get("manual_status") or None}


class StatusComponentsState(AuthState):
    components: list[ComponentRow] = []
    services: list[Choice] = []
    create_error: str = ""
    edit_open: bool = False
    editing: ComponentRow = ComponentRow()
    edit_error: str = ""

    async def _reload(self) -> None:
        rows = await admin_call(status_page.list_components)
        services, _ = await admin_call(service_admin.list_services, limit=MAX_SERVICES_OFFERED)
        self.services = [Choice(str(s["id"]), s["name"]) for s in services]
        names = {s["id"]: s["name"] for s in services}
        self.components = [_row(r, names) for r in rows]

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self.create_error = self.edit_error = ""
        self.edit_open = False
        await self._reload()

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def create(self, form: dict):
        if not await attempt(self, "create_error", status_page.create_component, _values(form, self.services)):
            return
        await self._reload()
        return rx.toast.success("Component added to the status page")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def open_edit(self, component_id: int):
        found = next((c for c in self.components if c.id == component_id), None)
        if found is not None:
            self.editing, self.edit_error, self.edit_open = found, "", True

    @rx.event
    @guarded(Permission.READ)
    async def set_edit_open(self, is_open: bool):
        self.edit_open = is_open

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def save_edit(self, form: dict):
        if not await attempt(self, "edit_error", status_page.update_component, self.editing.id,
                             _values(form, self.services)):
            return
        self.edit_open = False
        await self._reload()
        return rx.toast.success("Component saved")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def delete(self, component_id: int):
        if not await attempt(self, "create_error", status_page.delete_component, component_id):
            return
        await self._reload()
        return rx.toast.success("Component removed")
