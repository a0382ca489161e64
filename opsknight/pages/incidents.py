"""/incidents (and / for a signed-in responder): the live incident dashboard. Open incidents first; tabs with
counts, filters, search; acknowledge is the biggest thing on each row, within thumb reach on a phone."""

from __future__ import annotations

import reflex as rx

from opsknight.components.incidents import live_indicator, shortcuts_dialog, status_badge, urgency_badge
from opsknight.components.layout import signed_in
from opsknight.state.auth import AuthState
from opsknight.state.incidents import DashboardState as S

TABS = (("open", "Open"), ("triggered", "Triggered"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved"),
        ("all", "All"))


def _tab(value: str, label: str) -> rx.Component:
    count = {"open": S.counts["triggered"] + S.counts["acknowledged"],
             "all": S.counts["triggered"] + S.counts["acknowledged"] + S.counts["resolved"]}.get(value, S.counts[value])
    return rx.button(label, rx.badge(count, variant="soft", radius="full", color_scheme="gray"),
                     variant=rx.cond(S.view == value, "solid", "soft"), size="2", id=f"tab-{value}",
                     on_click=S.set_filter("view", value), flex_shrink="0")


def _select(name: str, value: rx.Var, choices: rx.Var | None, label: str, fixed=()) -> rx.Component:
    options = [rx.el.option(label, value="")] + [rx.el.option(text, value=v) for v, text in fixed]
    if choices is not None:
        options.append(rx.foreach(choices, lambda c: rx.el.option(c.name, value=c.id)))
    return rx.el.select(*options, value=value, on_change=lambda v: S.set_filter(name, v), id=f"filter-{name}",
                        aria_label=label, class_name="ok-select")


def _filters() -> rx.Component:
    return rx.vstack(
        rx.hstack(*[_tab(v, label) for v, label in TABS], spacing="2", overflow_x="auto", width="100%",
                  padding_bottom="2px", id="status-tabs"),
        rx.flex(
            rx.input(rx.input.slot(rx.icon("search", size=16)), placeholder="Search title, service or #number",
                     value=S.search, on_change=lambda v: S.set_filter("search", v), debounce_timeout=300,
                     id="incident-search", type="search", flex="1 1 220px", min_width="0", size="3"),
            _select("service_id", S.service_id, S.services, "All services"),
            _select("team_id", S.team_id, S.teams, "All teams"),
            _select("urgency", S.urgency, None, "Any urgency", (("high", "High urgency"), ("low", "Low urgency"))),
            rx.el.label(rx.switch(checked=S.mine, on_change=lambda v: S.set_filter("mine", v), id="filter-mine"),
                        rx.text("Mine", size="2"), style={"display": "flex", "gap": "6px", "align_items": "center"}),
            wrap="wrap", gap="8px", width="100%", align="center",
        ),
        spacing="3", width="100%",
    )


def _row(row) -> rx.Component:
    open_ = row.status != "resolved"
    return rx.box(
        rx.flex(
            rx.cond(AuthState.can_act & open_,
                    rx.checkbox(checked=S.selected.contains(row.id), on_change=lambda _: S.toggle_selected(row.id),
                                aria_label="Select", size="3", class_name="row-select")),
            rx.link(
                rx.vstack(
                    rx.hstack(status_badge(row.status), urgency_badge(row.urgency),
                              rx.text("#", row.number, size="2", color_scheme="gray", weight="medium"),
                              spacing="2", align="center", wrap="wrap"),
                    rx.text(row.title, size="3", weight="bold", class_name="incident-title", trim="both"),
                    rx.text(row.service, rx.cond(row.team != "", " · " + row.team, ""), " · ", row.age,
                            rx.cond(row.assignee != "", " · " + row.assignee, ""),
                            " · ", row.alert_count, rx.cond(row.alert_count == 1, " alert", " alerts"),
                            size="2", color_scheme="gray"),
                    spacing="1", align="start", min_width="0",
                ),
                href="/incidents/" + row.id.to_string(), underline="none", color="inherit", flex="1 1 240px",
                min_width="0", class_name="incident-open", title=row.status_line,
            ),
            rx.cond(AuthState.can_act,
                    rx.hstack(
                        rx.cond(row.status == "triggered",
                                rx.button(rx.icon("check", size=18), "Ack", size="3", color_scheme="amber",
                                          on_click=S.acknowledge(row.id), data_action="ack", class_name="thumb",
                                          id="ack-" + row.id.to_string(), flex="2 1 auto")),
                        rx.cond(open_,
                                rx.button(rx.icon("circle-check-big", size=18), "Resolve", size="3",
                                          variant="soft", color_scheme="green", on_click=S.resolve(row.id),
                                          data_action="resolve", class_name="thumb row-resolve",
                                          id="resolve-" + row.id.to_string(), flex="1 1 auto")),
                        spacing="2", flex_shrink="0", width=rx.breakpoints(initial="100%", sm="auto"))),
            gap="12px", align="center", width="100%", wrap="wrap",
        ),
        class_name=rx.cond(row.highlight, "incident-row flash", "incident-row"),
        data_incident_row=row.id, data_status=row.status, id="incident-" + row.id.to_string(),
        border_left=rx.match(row.status, ("triggered", f"4px solid {rx.color('red', 9)}"),
                             ("acknowledged", f"4px solid {rx.color('amber', 9)}"), f"4px solid {rx.color('green', 8)}"),
    )


def _bulk_bar() -> rx.Component:
    return rx.cond(
        S.selected.length() > 0,
        rx.flex(
            rx.text(S.selected.length(), " selected", weight="bold", size="2"),
            rx.button("Acknowledge", on_click=S.bulk("acknowledge"), color_scheme="amber", id="bulk-ack"),
            rx.button("Resolve", on_click=S.bulk("resolve"), color_scheme="green", variant="soft", id="bulk-resolve"),
            rx.button("Snooze 1 h", on_click=S.bulk("snooze"), variant="soft", id="bulk-snooze"),
            rx.button("Clear", on_click=S.select_all(False), variant="ghost", color_scheme="gray"),
            gap="8px", wrap="wrap", align="center", class_name="bulk-bar", id="bulk-bar",
        ),
    )


def _list() -> rx.Component:
    return rx.cond(
        ~S.loaded & (S.rows.length() == 0),
        rx.vstack(*[rx.skeleton(height="76px", width="100%") for _ in range(4)], width="100%", spacing="2"),
        rx.cond(
            S.rows.length() > 0,
            rx.vstack(rx.foreach(S.rows, _row),
                      rx.cond(S.next_cursor > 0, rx.button("Show older", variant="soft", on_click=S.load_more,
                                                           id="load-more", width="100%", size="3")),
                      spacing="2", width="100%", id="incident-list"),
            rx.center(rx.vstack(rx.icon("party-popper", size=32, color=rx.color("green", 9)),
                                rx.text("Nothing here.", weight="bold"),
                                rx.text("No incident matches these filters.", size="2", color_scheme="gray"),
                                rx.button("Clear filters", variant="soft", on_click=S.clear_filters),
                                align="center", spacing="2"),
                      padding="48px 0", width="100%", id="incident-list-empty"),
        ),
    )


@signed_in
def incidents_page() -> rx.Component:
    return rx.vstack(
        rx.window_event_listener(on_visibility_change=S.on_visibility),
        rx.flex(
            rx.heading("Incidents", size="7", id="page-title"),
            live_indicator(S.updated_at),
            rx.spacer(),
            rx.cond(AuthState.can_act, rx.link(rx.button(rx.icon("plus", size=16), "New incident", variant="soft"),
                                               href="/incidents/new", id="new-incident")),
            align="center", gap="12px", width="100%", wrap="wrap",
        ),
        _filters(),
        rx.cond(AuthState.can_act, _bulk_bar()),
        _list(),
        shortcuts_dialog(),
        spacing="4", width="100%",
    )
