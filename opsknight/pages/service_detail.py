"""/services/[service_id]: a service's settings and maintenance window, and its integrations — create one by
source type (its token and config snippet are shown once), rotate, enable/disable, HMAC secret, delete."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import reflex as rx

from opsknight.admin import AdminError, NotFound
from opsknight.admin import integrations as integration_admin
from opsknight.admin import services as service_admin
from opsknight.admin.fields import MAX_ID
from opsknight.components.layout import signed_in
from opsknight.components.forms import error_callout, field, native_select
from opsknight.components.service_form import service_dialog
from opsknight.engine import clock
from opsknight.models import SourceType
from opsknight.permissions import Permission
from opsknight.state.auth import AuthState
from opsknight.state.admin_call import admin_call
from opsknight.state.guard import guarded
from opsknight.state.people import when
from opsknight.state.services import ServiceEditor, ServiceRow, choices, service_row

SOURCE_LABELS = {SourceType.PROMETHEUS: "Prometheus Alertmanager", SourceType.GRAFANA: "Grafana",
                 SourceType.DATADOG: "Datadog", SourceType.EVENTS_V2: "Events API v2 (PagerDuty compatible)",
                 SourceType.GENERIC: "Generic webhook", SourceType.HEARTBEAT: "Heartbeat"}
MAINTENANCE_DURATIONS = [("30", "30 minutes"), ("60", "1 hour"), ("120", "2 hours"), ("240", "4 hours"),
                         ("480", "8 hours"), ("1440", "24 hours")]
_ID, _MINUTES = re.compile(r"[0-9]{1,10}"), re.compile(r"[0-9]{1,5}")  # nothing that overflows
GROUPING = [("fingerprint", "One incident per alert (fingerprint)"), ("group_key", "One incident per group")]


@dataclasses.dataclass
class IntegrationRow:
    id: int = 0
    name: str = ""
    source_type: str = ""
    source_label: str = ""
    enabled: bool = True
    token_prefix: str = ""
    has_hmac_secret: bool = False
    group_by: str = ""
    heartbeat_interval: str = ""
    endpoint: str = ""
    last_used: str = ""


def _to_row(view: dict[str, Any]) -> IntegrationRow:
    interval, source = view["heartbeat_interval_seconds"], view["source_type"]
    groups = source in integration_admin.GROUPING_SOURCES
    return IntegrationRow(
        id=view["id"], name=view["name"], source_type=source, source_label=SOURCE_LABELS[SourceType(source)],
        enabled=view["enabled"], token_prefix=view["token_prefix"], has_hmac_secret=view["has_hmac_secret"],
        group_by=view["options"].get("group_by", "fingerprint") if groups else "",
        heartbeat_interval=str(interval) if interval else "", endpoint=view["endpoint"],
        last_used=when(view["last_used_at"]),
    )


def _integration_values(form: dict[str, Any], source_type: str) -> dict[str, Any]:
    """The integration form's fields that apply to `source_type`, as the admin layer takes them."""
    values: dict[str, Any] = {"name": form.get("name") or None}
    if source_type == SourceType.HEARTBEAT:
        values["heartbeat_interval_seconds"] = form.get("heartbeat_interval_seconds") or None
    if source_type in integration_admin.GROUPING_SOURCES:
        values["options"] = {"group_by": form.get("group_by") or "fingerprint"}
    return values


def _utc(local: str) -> str | None:
    """A datetime-local input's value ("2026-11-27T14:00"), read as UTC; the admin layer validates it."""
    return f"{local}Z" if local else None


def _service_and_integrations(db, principal, service_id: int) -> tuple[dict, list[dict]]:
    return (service_admin.get_service(db, principal, service_id),
            integration_admin.list_integrations(db, principal, service_id))


async def _load(service_id: int) -> tuple[ServiceRow, list[IntegrationRow]]:
    """The service and its integrations, read in one transaction."""
    service, found = await admin_call(_service_and_integrations, service_id)
    return service_row(service), [_to_row(v) for v in found]


class ServiceDetailState(ServiceEditor, AuthState):
    service: ServiceRow = ServiceRow()
    missing: str = ""  # why there is no service to show
    integrations: list[IntegrationRow] = []
    maintenance_error: str = ""
    integration_error: str = ""
    action_error: str = ""
    # What is shown once: a new or rotated token with its snippet, or a generated HMAC secret.
    reveal_open: bool = False
    reveal_title: str = ""
    reveal_token: str = ""
    reveal_snippet: str = ""
    reveal_secret: str = ""
    integration_edit_open: bool = False
    integration_editing: IntegrationRow = IntegrationRow()
    integration_edit_error: str = ""

    def _service_id(self) -> int | None:
        last = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        return int(last) if _ID.fullmatch(last) and 0 < int(last) <= MAX_ID else None

    async def _reload(self) -> None:
        self.service, self.integrations = await _load(self.service.id)

    async def _act(self, fn, *args, error_var: str = "action_error") -> Any | None:
        """Run an admin function in its own transaction; on refusal show its message in `error_var`."""
        try:
            result = await admin_call(fn, *args)
        except AdminError as exc:
            setattr(self, error_var, exc.message)
            return None
        setattr(self, error_var, "")
        await self._reload()
        return result if result is not None else True

    def _reveal(self, title: str, answer: dict[str, Any]) -> None:
        self.reveal_title = title
        self.reveal_token, self.reveal_snippet = answer["token"], answer["snippet"]
        self.reveal_secret = answer.get("hmac_secret", "")
        self.reveal_open = True

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self.reveal_open, self.reveal_token, self.reveal_snippet, self.reveal_secret = False, "", "", ""
        self.maintenance_error = self.integration_error = self.action_error = ""
        service_id = self._service_id()
        try:
            if service_id is None:
                raise NotFound("No such service")
            self.service, self.integrations = await _load(service_id)
        except AdminError as exc:
            self.missing, self.service, self.integrations = exc.message, ServiceRow(), []
            return
        self.missing = ""
        self.policies, self.teams = await choices()

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def start_maintenance(self, form: dict):
        minutes = str(form.get("minutes", ""))
        until = (clock.now() + timedelta(minutes=int(minutes) if _MINUTES.fullmatch(minutes) else 60)).isoformat()
        await self._act(service_admin.update_service, self.service.id, {"maintenance": {"until": until}},
                        error_var="maintenance_error")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def schedule_maintenance(self, form: dict):
        if not form.get("until"):
            self.maintenance_error = "Choose when the maintenance ends."
            return
        window = {"start": _utc(form.get("start", "")), "until": _utc(form["until"])}
        await self._act(service_admin.update_service, self.service.id, {"maintenance": window},
                        error_var="maintenance_error")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def end_maintenance(self):
        await self._act(service_admin.update_service, self.service.id, {"maintenance": None},
                        error_var="maintenance_error")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def delete_service(self):
        try:
            await admin_call(service_admin.delete_service, self.service.id)
        except AdminError as exc:
            self.action_error = exc.message
            return
        return rx.redirect("/services")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def create_integration(self, form: dict):
        source_type = form.get("source_type", "")
        values = {"source_type": source_type, "with_hmac_secret": form.get("with_hmac_secret") == "on",
                  **_integration_values(form, source_type)}
        answer = await self._act(integration_admin.create_integration, self.service.id, values,
                                 error_var="integration_error")
        if answer:
            self._reveal(f"{answer['name']}: token and configuration", answer)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def rotate(self, integration_id: int):
        answer = await self._act(integration_admin.rotate_token, integration_id)
        if answer:
            self._reveal(f"{answer['name']}: new token (the old one no longer works)", answer)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_enabled(self, integration_id: int, enabled: bool):
        await self._act(integration_admin.update_integration, integration_id, {"enabled": enabled})

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def generate_hmac_secret(self, integration_id: int):
        secret = integration_admin.new_hmac_secret()
        if await self._act(integration_admin.update_integration, integration_id, {"hmac_secret": secret}):
            self.reveal_title, self.reveal_token, self.reveal_snippet = "HMAC secret", "", ""
            self.reveal_secret, self.reveal_open = secret, True

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def clear_hmac_secret(self, integration_id: int):
        await self._act(integration_admin.update_integration, integration_id, {"hmac_secret": None})

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def delete_integration(self, integration_id: int):
        await self._act(integration_admin.delete_integration, integration_id)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def open_integration_edit(self, integration: dict):
        self.integration_editing = IntegrationRow(**integration)
        self.integration_edit_error, self.integration_edit_open = "", True

    @rx.event
    @guarded(Permission.READ)  # only closes the dialog
    async def set_integration_edit_open(self, is_open: bool):
        self.integration_edit_open = is_open

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def save_integration(self, form: dict):
        editing = self.integration_editing
        if await self._act(integration_admin.update_integration, editing.id,
                           _integration_values(form, editing.source_type), error_var="integration_edit_error"):
            self.integration_edit_open = False

    @rx.event
    @guarded(Permission.READ)  # closing forgets what was shown once
    async def set_reveal_open(self, is_open: bool):
        self.reveal_open = is_open
        if not is_open:
            self.reveal_token = self.reveal_snippet = self.reveal_secret = ""


S = ServiceDetailState


# --- settings and maintenance --------------------------------------------------------------------------------------


def _settings() -> rx.Component:
    s = S.service
    return rx.card(rx.vstack(
        rx.hstack(
            rx.heading("Settings", size="4"), rx.spacer(),
            rx.cond(AuthState.is_admin, rx.hstack(
                rx.button("Edit", size="2", variant="soft", on_click=S.open_edit(s), id="edit-service"),
                _confirm("Delete service", f"Delete {s.name} and its integrations? Their tokens stop working.",
                         S.delete_service, "delete-service"),
                spacing="2")),
            width="100%", align="center",
        ),
        rx.data_list.root(
            rx.data_list.item(rx.data_list.label("Description"), rx.data_list.value(s.description)),
            rx.data_list.item(rx.data_list.label("Escalation policy"), rx.data_list.value(
                rx.cond(s.policy_name != "", s.policy_name, rx.text("none — alerts page nobody", color_scheme="red")),
                id="service-policy")),
            rx.data_list.item(rx.data_list.label("Team"), rx.data_list.value(s.team_name)),
            rx.data_list.item(rx.data_list.label("Urgency"), rx.data_list.value(
                rx.cond(s.urgency_from_severity, "from alert severity (default " + s.default_urgency + ")",
                        "always " + s.default_urgency))),
            rx.data_list.item(rx.data_list.label("Open incidents"), rx.data_list.value(s.open_incidents)),
        ),
        spacing="3",
    ), width="100%")


def _maintenance() -> rx.Component:
    s = S.service
    status = rx.cond(
        s.maintenance != "",
        rx.hstack(rx.badge(rx.cond(s.maintenance_active, "In maintenance", "Scheduled"), color_scheme="amber"),
                  rx.text(s.maintenance, size="2"),
                  rx.cond(AuthState.is_admin, rx.button("End maintenance", size="1", variant="soft",
                                                        on_click=S.end_maintenance, id="end-maintenance")),
                  align="center", spacing="3", id="maintenance-status"),
        rx.text("No maintenance window. Alerts page as usual.", size="2", color_scheme="gray",
                id="maintenance-status"),
    )
    controls = rx.hstack(
        rx.form(rx.hstack(
            field("Start now, for", native_select("minutes", MAINTENANCE_DURATIONS, "60", id="maintenance-minutes")),
            rx.button("Start maintenance", type="submit", id="start-maintenance"), align="end", spacing="2"),
            on_submit=S.start_maintenance, reset_on_submit=False),
        rx.form(rx.hstack(
            field("Scheduled start (UTC)", rx.input(type="datetime-local", name="start", id="maintenance-start")),
            field("Until (UTC)", rx.input(type="datetime-local", name="until", id="maintenance-until")),
            rx.button("Schedule", type="submit", variant="soft", id="schedule-maintenance"), align="end",
            spacing="2"),
            on_submit=S.schedule_maintenance, reset_on_submit=False),
        spacing="6", wrap="wrap", align="end",
    )
    return rx.card(rx.vstack(
        rx.heading("Maintenance", size="4"),
        rx.text("During a maintenance window alerts are recorded and nobody is paged.", size="2", color_scheme="gray"),
        status, rx.cond(AuthState.is_admin, controls),
        error_callout(S.maintenance_error, "maintenance-error"),
        spacing="3",
    ), width="100%")


# --- integrations --------------------------------------------------------------------------------------------------


def _confirm(label: str, question, on_confirm, id: str, **button) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(label, size=button.get("size", "2"), variant="soft", color_scheme="red",
                                          id=id)),
        rx.alert_dialog.content(
            rx.alert_dialog.title(f"{label}?"),
            rx.alert_dialog.description(question),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(label, color_scheme="red", on_click=on_confirm, id=f"{id}-confirm")),
                justify="end", spacing="3", margin_top="16px",
            ),
        ),
    )


def _integration_actions(row) -> rx.Component:
    return rx.hstack(
        rx.button("Edit", size="1", variant="soft", on_click=S.open_integration_edit(row),
                  id=f"edit-integration-{row.id}"),
        _confirm("Rotate token", "The current token stops working at once; a new one is shown once.",
                 S.rotate(row.id), f"rotate-integration-{row.id}", size="1"),
        rx.cond(row.enabled,
                rx.button("Disable", size="1", variant="soft", color_scheme="gray",
                          on_click=S.set_enabled(row.id, False), id=f"disable-integration-{row.id}"),
                rx.button("Enable", size="1", variant="soft", color_scheme="green",
                          on_click=S.set_enabled(row.id, True), id=f"enable-integration-{row.id}")),
        rx.cond(row.has_hmac_secret,
                rx.button("Remove HMAC", size="1", variant="soft", color_scheme="gray",
                          on_click=S.clear_hmac_secret(row.id), id=f"clear-hmac-{row.id}"),
                rx.button("Require HMAC", size="1", variant="soft", on_click=S.generate_hmac_secret(row.id),
                          id=f"generate-hmac-{row.id}")),
        _confirm("Delete integration", f"Delete {row.name}? Its token stops working at once.",
                 S.delete_integration(row.id), f"delete-integration-{row.id}", size="1"),
        spacing="2", wrap="wrap",
    )


def _integration_table_row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(row.name, weight="medium"),
                                rx.text(row.endpoint, size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(row.source_label),
        rx.table.cell(rx.code(row.token_prefix + "…")),
        rx.table.cell(rx.hstack(
            rx.cond(row.enabled, rx.badge("Enabled", color_scheme="green"), rx.badge("Disabled", color_scheme="gray")),
            rx.cond(row.has_hmac_secret, rx.badge("HMAC", color_scheme="blue")), spacing="1")),
        rx.table.cell(rx.cond(row.heartbeat_interval != "", "every " + row.heartbeat_interval + " s",
                              rx.cond(row.group_by == "group_key", "per group", ""))),
        rx.table.cell(row.last_used),
        rx.table.cell(rx.cond(AuthState.is_admin, _integration_actions(row))),
        id=f"integration-row-{row.id}",
    )


def _integrations_table() -> rx.Component:
    headers = ["Name", "Source", "Token", "Status", "Options", "Last used", ""]
    return rx.cond(
        S.integrations.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(S.integrations, _integration_table_row)),
            width="100%", variant="surface", id="integrations-table",
        ),
        rx.text("No integrations yet: add one so alerts can reach this service.", color_scheme="gray"),
    )


def _new_integration_form() -> rx.Component:
    sources = [(value.value, label) for value, label in SOURCE_LABELS.items()]
    return rx.form(
        rx.vstack(
            rx.heading("Add an integration", size="3"),
            rx.hstack(
                field("Source", native_select("source_type", sources, SourceType.PROMETHEUS.value,
                                              id="integration-source")),
                field("Name (optional)", rx.input(name="name", max_length=100, id="integration-name",
                                                  width="100%")),
                spacing="3", width="100%",
            ),
            rx.hstack(
                field("Prometheus/Grafana: incidents", native_select("group_by", GROUPING, "fingerprint",
                                                                    id="integration-group-by")),
                field("Heartbeat: interval (seconds, ≥ 30)", rx.input(name="heartbeat_interval_seconds",
                                                                     type="number", id="integration-interval")),
                spacing="3", width="100%",
            ),
            rx.el.label(rx.el.input(type="checkbox", name="with_hmac_secret", id="integration-hmac"),
                        rx.text(" Require an HMAC signature (a secret is generated)", size="2", as_="span"),
                        style={"display": "flex", "gap": "6px", "align_items": "center"}),
            error_callout(S.integration_error, "integration-error"),
            rx.button("Add integration", type="submit", id="integration-create"),
            spacing="3", width="100%",
        ),
        on_submit=S.create_integration,
        reset_on_submit=False,
    )


def _copy(text, id: str) -> rx.Component:
    return rx.button(rx.icon("copy", size=14), "Copy", size="1", variant="soft", type="button",
                     on_click=[rx.set_clipboard(text), rx.toast.info("Copied")], id=id)


def _reveal_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(S.reveal_title),
            rx.callout("Copy it now: OpsKnight stores only a digest and cannot show it again.", icon="key-round",
                       color_scheme="amber"),
            rx.vstack(
                rx.cond(S.reveal_token != "", rx.vstack(
                    rx.hstack(rx.text("Token", weight="medium"), _copy(S.reveal_token, "copy-token"),
                              align="center"),
                    rx.code(S.reveal_token, size="3", id="integration-token"), spacing="1")),
                rx.cond(S.reveal_secret != "", rx.vstack(
                    rx.hstack(rx.text("HMAC secret", weight="medium"), _copy(S.reveal_secret, "copy-secret"),
                              align="center"),
                    rx.code(S.reveal_secret, size="2", id="integration-hmac-secret",
                            style={"word_break": "break-all"}),
                    rx.text("Senders sign each body: X-OpsKnight-Signature: sha256=<hex HMAC-SHA256 of the body>.",
                            size="1", color_scheme="gray"),
                    spacing="1")),
                rx.cond(S.reveal_snippet != "", rx.vstack(
                    rx.hstack(rx.text("Configuration", weight="medium"), _copy(S.reveal_snippet, "copy-snippet"),
                              align="center"),
                    rx.el.pre(S.reveal_snippet, id="integration-snippet",
                              style={"background": rx.color("gray", 3), "padding": "12px", "border_radius": "6px",
                                     "overflow_x": "auto", "font_size": "12px", "max_height": "360px",
                                     "width": "100%"}),
                    spacing="1", width="100%")),
                rx.hstack(rx.dialog.close(rx.button("Done", id="reveal-done")), justify="end", width="100%"),
                spacing="4", margin_top="12px", width="100%",
            ),
            max_width="760px",
        ),
        open=S.reveal_open,
        on_open_change=S.set_reveal_open,
    )


def _integration_dialog() -> rx.Component:
    row = S.integration_editing
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Edit integration"),
            rx.form(
                rx.vstack(
                    field("Name", rx.input(name="name", default_value=row.name, max_length=100, width="100%",
                                           id="integration-edit-name")),
                    rx.cond(row.group_by != "", field("Incidents", native_select(
                        "group_by", GROUPING, row.group_by, id="integration-edit-group-by"))),
                    rx.cond(row.heartbeat_interval != "", field("Interval (seconds, ≥ 30)", rx.input(
                        name="heartbeat_interval_seconds", type="number", default_value=row.heartbeat_interval,
                        id="integration-edit-interval"))),
                    error_callout(S.integration_edit_error, "integration-edit-error"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                        rx.button("Save", type="submit", id="integration-edit-save"),
                        justify="end", width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=S.save_integration,
                reset_on_submit=False,
            ),
        ),
        open=S.integration_edit_open,
        on_open_change=S.set_integration_edit_open,
    )


@signed_in
def service_detail_page() -> rx.Component:
    return rx.cond(
        S.missing != "",
        rx.vstack(rx.heading("Service not found", size="7", id="page-title"), rx.text(S.missing),
                  rx.link("All services", href="/services")),
        rx.vstack(
            rx.hstack(rx.link("Services", href="/services"), rx.text("/"), spacing="2"),
            rx.heading(S.service.name, size="7", id="page-title"),
            error_callout(S.action_error, "service-action-error"),
            _settings(),
            _maintenance(),
            rx.card(rx.vstack(
                rx.heading("Integrations", size="4"),
                _integrations_table(),
                rx.cond(AuthState.is_admin, _new_integration_form()),
                spacing="4",
            ), width="100%"),
            service_dialog(S), _reveal_dialog(), _integration_dialog(),
            spacing="5", width="100%",
        ),
    )
