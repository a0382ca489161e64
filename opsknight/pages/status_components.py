"""/status-page: the components the public status page shows — their order, the services whose incidents they
reflect, and a manual override. Everyone signed in sees them; admins change them."""

from __future__ import annotations

import reflex as rx

from opsknight.components.forms import error_callout, field, native_select
from opsknight.components.layout import signed_in
from opsknight.engine.status_page import LABELS
from opsknight.state.auth import AuthState
from opsknight.state.status_components import ComponentRow
from opsknight.state.status_components import StatusComponentsState as S

COLORS = {"operational": "green", "under_maintenance": "blue", "degraded_performance": "amber",
          "partial_outage": "orange", "major_outage": "red"}
OVERRIDES = [("", "Derived from incidents")] + [(value, f"Always: {label}") for value, label in LABELS.items()]
RULES = ("A component is operational with no open incident on its services, degraded with only low-urgency ones, "
         "a partial outage with a high-urgency incident on some of its services and a major outage when all of "
         "them have one. A service in a maintenance window counts none of its incidents and makes it “under "
         "maintenance”. An override wins until you set it back to “Derived from incidents”.")


def _state_badge(row: ComponentRow) -> rx.Component:
    return rx.match(row.status, *[(value, rx.badge(label, color_scheme=COLORS[value], variant="soft"))
                                  for value, label in LABELS.items()], rx.badge(row.status))


def _form_fields(row: ComponentRow | None) -> list[rx.Component]:
    """The add form (row None) and the edit dialog share these fields."""
    picked = (lambda c: row.service_ids.contains(c.id)) if row is not None else (lambda c: False)
    prefix = "edit-" if row is not None else "new-"
    return [
        field("Name", rx.input(name="name", max_length=100, width="100%", default_value=row.name if row is not None else "",
                               id=f"{prefix}component-name", required=True)),
        field("Description", rx.text_area(name="description", rows="2", width="100%", max_length=5000,
                                          default_value=row.description if row is not None else "",
                                          id=f"{prefix}component-description"), "Shown to the public under its name"),
        field("Order", rx.input(name="position", type="number", min="0", max="10000", width="120px",
                                default_value=row.position.to_string() if row is not None else "0",
                                id=f"{prefix}component-position"), "Lower numbers first"),
        field("Services", rx.flex(rx.foreach(S.services, lambda c: rx.el.label(
            rx.el.input(type="checkbox", name="service-" + c.id, default_checked=picked(c),
                        id=prefix + "component-service-" + c.id),
            rx.text(c.name, size="2", as_="span"),
            style={"display": "flex", "gap": "6px", "align_items": "center", "min_height": "32px"})),
            gap="4px 16px", wrap="wrap"), "Their open incidents set this component's state"),
        field("State", native_select("manual_status", OVERRIDES, row.manual_status if row is not None else "",
                                     id=f"{prefix}component-override")),
    ]


def _edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Edit ", S.editing.name),
            rx.form(rx.vstack(
                *_form_fields(S.editing),
                error_callout(S.edit_error, "edit-component-error"),
                rx.hstack(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                          rx.button("Save", type="submit", id="edit-component-save"), justify="end", spacing="3",
                          width="100%"),
                spacing="3"), on_submit=S.save_edit, key=S.editing.id.to_string()),
            max_width="520px",
        ),
        open=S.edit_open, on_open_change=S.set_edit_open,
    )


def _component(row: ComponentRow) -> rx.Component:
    return rx.card(rx.vstack(
        rx.flex(rx.text(row.name, weight="bold", size="3"), rx.spacer(), _state_badge(row), width="100%",
                align="center", gap="8px", wrap="wrap"),
        rx.cond(row.description != "", rx.text(row.description, size="2", color_scheme="gray")),
        rx.text(rx.cond(row.service_names != "", "Services: " + row.service_names, "No services linked"), size="2"),
        rx.text("Order ", row.position, rx.cond(row.manual_status != "", " · manual override", ""), size="1",
                color_scheme="gray"),
        rx.cond(AuthState.is_admin, rx.hstack(
            rx.button("Edit", size="2", variant="soft", on_click=S.open_edit(row.id),
                      id="edit-component-" + row.id.to_string()),
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(rx.button("Remove", size="2", variant="soft", color_scheme="red",
                                                  id="remove-component-" + row.id.to_string())),
                rx.alert_dialog.content(
                    rx.alert_dialog.title("Remove ", row.name, "?"),
                    rx.alert_dialog.description("It disappears from the public status page."),
                    rx.hstack(rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                              rx.alert_dialog.action(rx.button("Remove", color_scheme="red",
                                                               on_click=S.delete(row.id),
                                                               id="confirm-remove-component")),
                              justify="end", spacing="3", margin_top="16px"))),
            spacing="2")),
        spacing="2", width="100%"), width="100%", class_name="status-component", data_status=row.status)


def _create_form() -> rx.Component:
    return rx.card(rx.form(rx.vstack(
        rx.heading("Add a component", size="4"),
        *_form_fields(None),
        error_callout(S.create_error, "create-component-error"),
        rx.button(rx.icon("plus", size=16), "Add component", type="submit", id="create-component"),
        spacing="3", width="100%"), on_submit=S.create, reset_on_submit=True), width="100%", id="create-component-card")


@signed_in
def status_components_page() -> rx.Component:
    return rx.vstack(
        rx.flex(rx.heading("Status page", size="6", id="page-title"), rx.spacer(),
                rx.link(rx.hstack(rx.icon("external-link", size=16), "Open the public page", spacing="1",
                                  align="center"), href="/status", is_external=True, id="open-status"),
                width="100%", align="center", gap="8px", wrap="wrap"),
        rx.text(RULES, size="2", color_scheme="gray"),
        rx.vstack(rx.foreach(S.components, _component), spacing="3", width="100%", id="status-components"),
        rx.cond(S.components.length() == 0, rx.text("No components yet: the public page says so.", size="2",
                                                    color_scheme="gray")),
        rx.cond(AuthState.is_admin, _create_form()),
        _edit_dialog(),
        spacing="4", width="100%", max_width="760px",
    )
