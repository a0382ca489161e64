"""/services: every service with its policy, team, maintenance and open incidents; create, edit and delete."""

from __future__ import annotations


import reflex as rx

from opsknight.admin import AdminError
from opsknight.admin import services as service_admin
from opsknight.components.layout import signed_in
from opsknight.components.forms import error_callout
from opsknight.components.service_form import service_dialog, service_fields
from opsknight.permissions import Permission
from opsknight.state.auth import AuthState
from opsknight.state.admin_call import admin_call
from opsknight.state.guard import guarded
from opsknight.state.services import ServiceEditor, ServiceRow, choices, form_values, service_row

MAX_LISTED = 1000


async def _services() -> list[ServiceRow]:
    views, _ = await admin_call(service_admin.list_services, limit=MAX_LISTED)
    return sorted((service_row(v) for v in views), key=lambda s: s.name.lower())


class ServicesState(ServiceEditor, AuthState):
    services: list[ServiceRow] = []
    create_error: str = ""
    delete_error: str = ""

    async def _reload(self) -> None:
        self.services = await _services()

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self.services = await _services()
        self.policies, self.teams = await choices()
        self.create_error = self.delete_error = ""

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def create(self, form: dict):
        try:
            service_id = (await admin_call(service_admin.create_service, form_values(form)))["id"]
        except AdminError as exc:
            self.create_error = exc.message
            return
        self.create_error = ""
        return rx.redirect(f"/services/{service_id}")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def delete(self, service_id: int):
        try:
            await admin_call(service_admin.delete_service, service_id)
        except AdminError as exc:
            self.delete_error = exc.message
            return
        self.delete_error = ""
        await self._reload()
        return rx.toast.success("Service deleted")


def _create_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("New service", size="4"),
                service_fields(ServiceRow(), ServicesState.policies, ServicesState.teams, "new"),
                error_callout(ServicesState.create_error, "service-form-error"),
                rx.button("Create service", type="submit", id="service-create"),
                spacing="3",
            ),
            on_submit=ServicesState.create,
            reset_on_submit=False,
        ),
        width="100%", max_width="720px",
    )


def _maintenance_badge(row) -> rx.Component:
    return rx.cond(
        row.maintenance != "",
        rx.badge(rx.cond(row.maintenance_active, "Maintenance ", "Scheduled "), row.maintenance,
                 color_scheme=rx.cond(row.maintenance_active, "amber", "gray"), variant="soft"),
        rx.badge("Active", color_scheme="green", variant="soft"),
    )


def _delete_button(row) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button("Delete", size="1", variant="soft", color_scheme="red",
                                          id=f"delete-service-{row.id}")),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete service?"),
            rx.alert_dialog.description(
                f"Delete {row.name} and its integrations? Their tokens stop working at once."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red", id="confirm-delete-service",
                                                 on_click=ServicesState.delete(row.id))),
                justify="end", spacing="3", margin_top="16px",
            ),
        ),
    )


def _row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row.name, href=f"/services/{row.id}", weight="medium")),
        rx.table.cell(rx.cond(row.policy_name != "", row.policy_name,
                              rx.text("none — pages nobody", color_scheme="red", size="2"))),
        rx.table.cell(row.team_name),
        rx.table.cell(rx.cond(row.urgency_from_severity, "from severity", row.default_urgency)),
        rx.table.cell(_maintenance_badge(row)),
        rx.table.cell(rx.badge(row.open_incidents, color_scheme=rx.cond(row.open_incidents > 0, "red", "gray"))),
        rx.table.cell(row.integrations),
        rx.table.cell(rx.cond(AuthState.is_admin, rx.hstack(
            rx.button("Edit", size="1", variant="soft", on_click=ServicesState.open_edit(row),
                      id=f"edit-service-{row.id}"),
            _delete_button(row), spacing="2"))),
        id=f"service-row-{row.id}",
    )


def _table() -> rx.Component:
    headers = ["Name", "Escalation policy", "Team", "Urgency", "Status", "Open incidents", "Integrations", ""]
    return rx.cond(
        ServicesState.services.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(ServicesState.services, _row)),
            width="100%", variant="surface", id="services-table",
        ),
        rx.text("No services yet.", color_scheme="gray"),
    )


@signed_in
def services_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Services", size="7", id="page-title"),
        error_callout(ServicesState.delete_error, "service-delete-error"),
        _table(),
        rx.cond(AuthState.is_admin, _create_form()),
        service_dialog(ServicesState),
        spacing="5", width="100%",
    )
