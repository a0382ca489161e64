"""The service form's fields (create form and edit dialog) and the edit dialog."""

from __future__ import annotations

import reflex as rx

from opsknight.components.forms import error_callout, field, native_select
from opsknight.state.services import Choice, ServiceRow

def service_fields(values: ServiceRow | rx.Var, policies: rx.Var[list[Choice]], teams: rx.Var[list[Choice]],
                   prefix: str) -> rx.Component:
    """Name, description, policy, team and urgency; `prefix` keeps element ids unique on the page."""
    return rx.vstack(
        field("Name", rx.input(name="name", default_value=values.name, max_length=100, width="100%",
                               id=f"{prefix}-name")),
        field("Description", rx.text_area(name="description", default_value=values.description, width="100%",
                                          max_length=5000, id=f"{prefix}-description")),
        rx.hstack(
            field("Escalation policy", native_select("escalation_policy_id", policies, values.policy_id,
                                                     none_label="— none (pages nobody) —",
                                                     id=f"{prefix}-policy")),
            field("Team", native_select("team_id", teams, values.team_id, none_label="— none —",
                                        id=f"{prefix}-team")),
            spacing="3", width="100%",
        ),
        rx.hstack(
            field("Default urgency", native_select("default_urgency", [("high", "High"), ("low", "Low")],
                                                   values.default_urgency, id=f"{prefix}-urgency")),
            rx.el.label(
                rx.el.input(type="checkbox", name="urgency_from_severity",
                            default_checked=values.urgency_from_severity, id=f"{prefix}-from-severity"),
                rx.text(" Alert severity sets the urgency", size="2", as_="span"),
                style={"display": "flex", "gap": "6px", "align_items": "center", "padding_top": "22px"},
            ),
            spacing="3", width="100%",
        ),
        spacing="3", width="100%",
    )


def service_dialog(state) -> rx.Component:
    """The edit dialog of a `ServiceEditor` state."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Edit service"),
            rx.form(
                rx.vstack(
                    service_fields(state.editing, state.policies, state.teams, "edit"),
                    error_callout(state.edit_error, "service-edit-error"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                        rx.button("Save", type="submit", id="service-edit-save"),
                        justify="end", width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=state.save_edit,
                reset_on_submit=False,
            ),
            max_width="640px",
        ),
        open=state.edit_open,
        on_open_change=state.set_edit_open,
    )
