"""Schedule pages: ``/schedules`` (list, create) and ``/schedules/[schedule_id]`` (layers, overrides, timeline)."""

from __future__ import annotations

import reflex as rx

from opsknight.admin.schedule_input import time_zone_names
from opsknight.components.layout import signed_in
from opsknight.components.timeline import timeline
from opsknight.state.auth import AuthState
from opsknight.state.schedule_editor import ScheduleEditState
from opsknight.state.schedule_forms import LayerEdit, MemberEdit, OverrideRow, RestrictionEdit, ScheduleRow
from opsknight.state.schedules import ScheduleListState

S = ScheduleEditState
DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
UNITS = (("hour", "hours"), ("day", "days"), ("week", "weeks"))
ZONES_LIST = "time-zone-names"


def _zones_datalist() -> rx.Component:
    return rx.el.datalist(*[rx.el.option(value=name) for name in sorted(time_zone_names())], id=ZONES_LIST)


def _field(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color_scheme="gray"), control, spacing="1")


def _select(options, value, on_change, element_id, first: tuple[str, str] | None = None, **props) -> rx.Component:
    """A native <select> (reliable to drive and to read in tests)."""
    head = [rx.el.option(first[1], value=first[0])] if first else []
    return rx.el.select(*head, rx.foreach(options, lambda c: rx.el.option(c.label, value=c.value)), value=value,
                        on_change=on_change, id=element_id, style={"padding": "6px", "border_radius": "6px"}, **props)


def _messages(error: rx.Var, fields: rx.Var | None, notice: rx.Var | None, prefix: str) -> rx.Component:
    parts = [rx.cond(error != "", rx.callout(
        rx.vstack(rx.text(error), rx.foreach(fields, lambda f: rx.text(f, size="1")) if fields is not None else
                  rx.fragment(), spacing="1"),
        icon="triangle_alert", color_scheme="red", id=f"{prefix}-error", width="100%"))]
    if notice is not None:
        parts.append(rx.cond(notice != "", rx.callout(notice, icon="check", color_scheme="green",
                                                      id=f"{prefix}-notice", width="100%")))
    return rx.fragment(*parts)


# --- /schedules ------------------------------------------------------------------------------------------------------


def _schedule_row(row: ScheduleRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row.name, href="/schedules/" + row.id.to_string(), class_name="schedule-link")),
        rx.table.cell(row.time_zone), rx.table.cell(row.team), rx.table.cell(row.layers),
        rx.table.cell(rx.badge(row.on_call, color_scheme=rx.cond(row.gap, "red", "green"))),
    )


def _create_form() -> rx.Component:
    teams = ScheduleListState.teams
    return rx.card(rx.form(
        rx.hstack(
            _field("Name", rx.input(name="name", id="new-schedule-name", required=True, max_length=100)),
            _field("Time zone", rx.input(name="time_zone", id="new-schedule-tz", default_value="UTC",
                                         custom_attrs={"list": ZONES_LIST})),
            _field("Team", rx.el.select(rx.el.option("No team", value=""),
                                        rx.foreach(teams, lambda c: rx.el.option(c.label, value=c.value)),
                                        name="team_id", id="new-schedule-team", style={"padding": "6px"})),
            _field("Description", rx.input(name="description", max_length=2000)),
            rx.button("Create schedule", type="submit", id="create-schedule"),
            align="end", spacing="3", wrap="wrap",
        ),
        on_submit=ScheduleListState.create, reset_on_submit=False,
    ), width="100%")


@signed_in
def schedules_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Schedules", size="7", id="page-title"),
        _zones_datalist(),
        _messages(ScheduleListState.error, None, None, "schedules"),
        rx.cond(AuthState.is_admin, _create_form()),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Name", "Time zone", "Team", "Layers", "On call now")])),
            rx.table.body(rx.foreach(ScheduleListState.schedules, _schedule_row)),
            width="100%", id="schedules-table",
        ),
        spacing="4", width="100%",
    )


# --- /schedules/[schedule_id]: details -------------------------------------------------------------------------


def _details_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            _field("Name", rx.input(name="name", default_value=S.name, id="schedule-name", max_length=100)),
            _field("Time zone", rx.input(name="time_zone", default_value=S.time_zone, id="schedule-tz",
                                         custom_attrs={"list": ZONES_LIST})),
            _field("Team", rx.el.select(rx.el.option("No team", value=""),
                                        rx.foreach(S.teams, lambda c: rx.el.option(c.label, value=c.value)),
                                        name="team_id", default_value=S.team_id, id="schedule-team",
                                        style={"padding": "6px"})),
            _field("Description", rx.input(name="description", default_value=S.description, max_length=2000)),
            rx.button("Save details", type="submit", variant="soft", id="save-details"),
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(rx.button("Delete schedule", color_scheme="red", variant="soft",
                                                  type="button", id="delete-schedule")),
                rx.alert_dialog.content(
                    rx.alert_dialog.title("Delete this schedule?"),
                    rx.alert_dialog.description("Its layers and overrides go too. Escalation policies that page "
                                                "it must be changed first."),
                    rx.hstack(rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                              rx.alert_dialog.action(rx.button("Delete", color_scheme="red",
                                                               on_click=S.delete_schedule, id="confirm-delete")),
                              justify="end", spacing="3"),
                ),
            ),
            align="end", spacing="3", wrap="wrap",
        ),
        on_submit=S.save_details, reset_on_submit=False, key=S.rev, width="100%",
    )


# --- timeline ------------------------------------------------------------------------------------------------------


def _weeks_toggle() -> rx.Component:
    return rx.hstack(*[rx.button(f"{w} week{'s' if w != '1' else ''}", size="1", id=f"weeks-{w}",
                                 variant=rx.cond(S.weeks == w, "solid", "outline"), on_click=S.set_weeks(w))
                       for w in ("1", "2", "4")], spacing="1")


def _timelines() -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.heading("Timeline", size="4"), _weeks_toggle(),
                  rx.text("Times in ", S.viewer_tz, " (your time zone)", size="1", color_scheme="gray"),
                  spacing="4", align="center", wrap="wrap"),
        rx.cond(S.previewing, rx.callout("Preview of your unsaved edits: nothing is saved until you press Save "
                                         "layers.", icon="eye", color_scheme="amber", id="preview-banner")),
        rx.foreach(S.timelines, lambda view: timeline(view, S.window_start, S.window_end)),
        spacing="3", width="100%", id="timelines",
    )


# --- layers --------------------------------------------------------------------------------------------------------


def _member(member: MemberEdit, i, j) -> rx.Component:
    return rx.badge(
        rx.text(j + 1, ". ", member.name, class_name="member-name"),
        rx.cond(member.disabled, rx.text(" (disabled)", color_scheme="red")),
        rx.icon_button(rx.icon("chevron-left", size=12), size="1", variant="ghost", on_click=S.move_member(i, j, -1),
                       title="Earlier in the rotation"),
        rx.icon_button(rx.icon("chevron-right", size=12), size="1", variant="ghost", on_click=S.move_member(i, j, 1),
                       title="Later in the rotation"),
        rx.icon_button(rx.icon("x", size=12), size="1", variant="ghost", color_scheme="red",
                       on_click=S.remove_member(i, j), title="Take out of the rotation"),
        size="2", variant="surface", color_scheme=rx.cond(member.disabled, "red", "gray"), class_name="member",
        data_user=member.user_id,
    )


def _restriction(restriction: RestrictionEdit, i, k) -> rx.Component:
    days = [rx.button(name, size="1", on_click=S.toggle_day(i, k, d), type="button",
                      variant=rx.cond(restriction.days[d], "solid", "outline")) for d, name in enumerate(DAYS)]
    return rx.hstack(
        *days,
        rx.input(type="time", default_value=restriction.start, size="1",
                 on_blur=lambda v: S.set_restriction_time(i, k, "start", v)),
        rx.text("to", size="1"),
        rx.input(type="time", default_value=restriction.end, size="1",
                 on_blur=lambda v: S.set_restriction_time(i, k, "end", v)),
        rx.icon_button(rx.icon("trash-2", size=14), size="1", variant="ghost", color_scheme="red",
                       on_click=S.remove_restriction(i, k), title="Remove window"),
        spacing="1", align="center", wrap="wrap",
    )


def _layer(layer: LayerEdit, i) -> rx.Component:
    def blur(field: str):
        return lambda v: S.set_layer_field(i, field, v)

    return rx.card(rx.vstack(
        rx.hstack(
            _field("Layer name", rx.input(default_value=layer.name, on_blur=blur("name"), id=f"layer-{i}-name")),
            _field("Priority (higher wins)", rx.input(type="number", min=0, max=1000, default_value=layer.priority,
                                                      on_blur=blur("priority"), id=f"layer-{i}-priority",
                                                      width="90px")),
            _field("Shift length", rx.hstack(
                rx.input(type="number", min=1, max=1000, default_value=layer.shift_length,
                         on_blur=blur("shift_length"), id=f"layer-{i}-length", width="70px"),
                rx.el.select(*[rx.el.option(label, value=unit) for unit, label in UNITS], value=layer.unit,
                             on_change=lambda v: S.set_layer_field(i, "unit", v), id=f"layer-{i}-unit",
                             style={"padding": "6px", "border_radius": "6px"}))),
            _field("First handoff (date)", rx.input(type="date", default_value=layer.start_date,
                                                    on_blur=blur("start_date"), id=f"layer-{i}-start")),
            _field("Handoff time", rx.input(type="time", default_value=layer.handoff_time,
                                            on_blur=blur("handoff_time"), id=f"layer-{i}-handoff")),
            _field("Ends (optional)", rx.input(type="datetime-local", default_value=layer.ends_at,
                                               on_blur=blur("ends_at"), id=f"layer-{i}-ends")),
            rx.button("Remove layer", color_scheme="red", variant="soft", on_click=S.remove_layer(i),
                      id=f"layer-{i}-remove"),
            spacing="3", align="end", wrap="wrap",
        ),
        rx.text("Rotation order", size="1", color_scheme="gray"),
        rx.hstack(rx.foreach(layer.members, lambda m, j: _member(m, i, j)),
                  _select(S.people, "", lambda v: S.add_member(i, v), f"layer-{i}-add-member",
                          first=("", "Add member…")),
                  spacing="2", wrap="wrap", align="center", id=f"layer-{i}-members"),
        rx.text("On call only during (empty: always)", size="1", color_scheme="gray"),
        rx.foreach(layer.restrictions, lambda r, k: _restriction(r, i, k)),
        rx.button("Add time window", size="1", variant="soft", on_click=S.add_restriction(i),
                  id=f"layer-{i}-add-window"),
        spacing="2", width="100%",
    ), width="100%", class_name="layer-editor")


def _layers() -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.heading("Layers", size="4"),
                  rx.text("Handoffs and windows in the schedule's time zone, ", S.time_zone,
                          ". Where layers overlap the higher priority wins; of equal priorities the later one.",
                          size="1", color_scheme="gray"), spacing="3", align="center", wrap="wrap"),
        rx.box(rx.vstack(rx.foreach(S.layers, _layer), spacing="3", width="100%"), key=S.rev, width="100%"),
        rx.hstack(
            rx.button("Add layer", variant="soft", on_click=S.add_layer, id="add-layer"),
            rx.button("Preview", variant="outline", on_click=S.preview, id="preview-layers"),
            rx.button("Save layers", on_click=S.save_layers, id="save-layers"),
            rx.button("Discard edits", variant="ghost", color_scheme="gray", on_click=S.discard, id="discard-layers"),
            rx.cond(S.dirty, rx.badge("Unsaved edits", color_scheme="amber", id="unsaved-badge")),
            spacing="3", align="center",
        ),
        spacing="3", width="100%",
    )


# --- overrides -----------------------------------------------------------------------------------------------------


def _override_row(row: OverrideRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.user), rx.table.cell(rx.cond(row.replaces != "", row.replaces, "Everyone")),
        rx.table.cell(row.start), rx.table.cell(row.end),
        rx.table.cell(rx.cond(AuthState.is_admin | row.mine, rx.button(
            "Remove", size="1", color_scheme="red", variant="soft", on_click=S.delete_override(row.id),
            id="remove-override-" + row.id.to_string()))),
        class_name="override-row",
    )


def _override_form() -> rx.Component:
    return rx.hstack(
        _field("Who is on call", _select(S.override_people, S.ov_user,
                                         lambda v: S.set_override_field("ov_user", v), "override-user")),
        _field("Instead of", _select(S.rotation_people, S.ov_replaces, lambda v: S.set_override_field("ov_replaces", v),
                                     "override-replaces", first=("", "Everyone (whole schedule)"))),
        _field("From", rx.input(type="datetime-local", default_value=S.ov_start, id="override-start",
                                on_change=lambda v: S.set_override_field("ov_start", v))),
        _field("Until", rx.input(type="datetime-local", default_value=S.ov_end, id="override-end",
                                 on_change=lambda v: S.set_override_field("ov_end", v))),
        rx.button("Add override", on_click=S.add_override, id="add-override"),
        spacing="3", align="end", wrap="wrap",
    )


def _overrides() -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.heading("Overrides", size="4"),
                  rx.text("Upcoming and current; times in ", S.viewer_tz, size="1", color_scheme="gray"),
                  spacing="3", align="center"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("On call", "Instead of", "From", "Until", "")])),
            rx.table.body(rx.foreach(S.overrides, _override_row)), width="100%", id="overrides-table"),
        rx.cond(AuthState.user_role != "viewer", _override_form()),
        spacing="3", width="100%",
    )


@signed_in
def schedule_page() -> rx.Component:
    return rx.vstack(
        rx.link("← All schedules", href="/schedules", size="2"),
        rx.heading(S.name, size="7", id="page-title"),
        rx.text("Time zone ", S.time_zone, size="2", color_scheme="gray", id="schedule-time-zone"),
        _zones_datalist(),
        _messages(S.error, S.error_fields, S.notice, "schedule"),
        rx.cond(AuthState.is_admin, _details_form()),
        _timelines(),
        rx.cond(AuthState.is_admin, _layers()),
        _overrides(),
        spacing="5", width="100%",
    )
