"""/analytics: how fast incidents are answered and how heavy on-call is on people, for a window and a filter.
Layout only: the figures come from `state.analytics` (which reads `admin.analytics`; definitions in
`engine.analytics`). On a phone the filters stack and each table scrolls sideways inside its card."""

from __future__ import annotations

import reflex as rx

from opsknight.components.forms import error_callout, field, native_select
from opsknight.components.layout import signed_in
from opsknight.state.analytics import AnalyticsState as S

HEADERS = {
    "daily": ("Day", "Incidents", "High", "Low"),
    "people": ("User id", "Person", "Email", "Time zone", "Pages", "In sleep hours", "Sleep %", "Acknowledged"),
    "services": ("Service id", "Service", "Team", "Incidents", "Alerts"),
    "sources": ("Source", "Alerts", "Incidents"),
}
HELP = (
    ("Window", "From the first day to the day after the last (that day not included), as calendar days in your "
               "time zone (set it on your profile). An incident belongs to the day it was opened. Incidents merged "
               "into another are left out: they were folded into that one."),
    ("Filters", "Team (the service's team), service and urgency apply to incidents, and to alerts and pages "
                "through the incident they belong to."),
    ("MTTA / MTTR", "Time from opening to the first acknowledgement (over acknowledged incidents) and to "
                    "resolution (over resolved ones). Median and 90th percentile, interpolated between the two "
                    "nearest values."),
    ("Escalated", "Share of the window's incidents that paged someone beyond the first escalation step (a request "
                  "to add a responder does not count)."),
    ("Pages", "One page is one escalation step of one incident reaching a person, however many channels it went "
              "out on (requests to add a responder count). It belongs to the window by when it was first sent."),
    ("Sleep-hour pages", "Pages first sent between 22:00 and 07:00 on the person's own clock (their time zone, "
                         "daylight saving time included)."),
    ("Noisiest", "Services by incidents opened (then alerts received) in the window; alert sources by alerts "
                 "received in the window. Top 10 each."),
    ("CSV", "Each table downloads as CSV with exactly the rows shown; /api/v1/analytics/<table>.csv gives the same "
            "with an API key."),
)


def _download(name: str) -> rx.Component:
    return rx.button(rx.icon("download", size=14), "CSV", on_click=S.download(name), size="1", variant="soft",
                     id=f"download-{name}", aria_label=f"Download {name} as CSV")


def _table(name: str, rows: rx.Var, **box) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h, white_space="nowrap")
                                           for h in HEADERS[name]])),
            rx.table.body(rx.foreach(rows, lambda row: rx.table.row(
                rx.foreach(row, lambda value: rx.table.cell(value, white_space="nowrap")),
                class_name="analytics-row"))),
            size="1", width="100%",
        ),
        rx.cond(rows.length() == 0, rx.text("Nothing in this window.", size="2", color_scheme="gray", padding="8px")),
        overflow_x="auto", width="100%", id=f"table-{name}", **box,
    )


def _section(title: str, name: str, *body: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading(title, size="4"), rx.spacer(), _download(name), width="100%", align="center"),
            *body,
            spacing="3", width="100%",
        ),
        width="100%", min_width="0", id=f"section-{name}",
    )


def _filters() -> rx.Component:
    date_input = {"type": "date", "required": True, "width": "100%"}
    return rx.form(
        # Two to a row on a phone (From | To, Team | Service, Urgency | Apply), one row on a wide screen.
        rx.grid(
            field("From", rx.input(name="from", default_value=S.form["from"], id="filter-from", **date_input)),
            field("To (not included)", rx.input(name="to", default_value=S.form["to"], id="filter-to", **date_input)),
            field("Team", native_select("team_id", S.teams, S.form["team_id"], none_label="All teams",
                                        id="filter-team")),
            field("Service", native_select("service_id", S.services, S.form["service_id"], none_label="All services",
                                           id="filter-service")),
            field("Urgency", native_select("urgency", [("high", "High"), ("low", "Low")], S.form["urgency"],
                                           none_label="Any", id="filter-urgency")),
            rx.button(rx.icon("filter", size=16), "Apply", type="submit", id="apply-filters", width="100%"),
            columns=rx.breakpoints(initial="2", md="6"), gap="12px", width="100%", align_items="end",
        ),
        # Remounted with each report, so the uncontrolled inputs show the window it is for.
        key=S.window_label, on_submit=S.apply_filters, reset_on_submit=False, width="100%",
    )


def _stats() -> rx.Component:
    def stat(item) -> rx.Component:
        return rx.card(rx.vstack(
            rx.text(item.label, size="2", color_scheme="gray"),
            rx.heading(item.value, size="6", class_name="stat-value"),
            rx.text(item.detail, size="1", color_scheme="gray"),
            spacing="1"), id=item.id, min_width="0")

    return rx.vstack(
        rx.hstack(rx.text(S.window_label, size="2", color_scheme="gray", id="analytics-window"), rx.spacer(),
                  _download("summary"), width="100%", align="center", wrap="wrap"),
        rx.grid(rx.foreach(S.stats, stat), columns=rx.breakpoints(initial="2", md="4"), spacing="3", width="100%"),
        spacing="2", width="100%",
    )


def _daily() -> rx.Component:
    chart = rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key="day", tick_line=False, font_size=11, min_tick_gap=8),
        rx.recharts.y_axis(allow_decimals=False, width=32, font_size=11),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        rx.recharts.bar(data_key="high", name="High urgency", stack_id="urgency", fill=rx.color("red", 9),
                        max_bar_size=32),
        rx.recharts.bar(data_key="low", name="Low urgency", stack_id="urgency", fill=rx.color("indigo", 7),
                        max_bar_size=32),
        data=S.daily_chart, width="100%", height=240,
    )
    return _section("Incidents per day", "daily", rx.box(chart, width="100%", id="chart-daily"),
                    _table("daily", S.daily_rows, max_height="280px", overflow_y="auto"))


def _people() -> rx.Component:
    chart = rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", horizontal=False),
        rx.recharts.x_axis(type_="number", allow_decimals=False, font_size=11),
        rx.recharts.y_axis(data_key="name", type_="category", width=116, font_size=11),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        rx.recharts.bar(data_key="asleep", name="22:00–07:00", stack_id="pages", fill=rx.color("crimson", 9),
                        max_bar_size=24),
        rx.recharts.bar(data_key="awake", name="Other hours", stack_id="pages", fill=rx.color("indigo", 7),
                        max_bar_size=24),
        data=S.people_chart, layout="vertical", width="100%", height=S.people_chart_height,
    )
    return _section("On-call load per person", "people",
                    rx.text("Pages received, and how many woke someone (22:00–07:00 in their time zone).", size="2",
                            color_scheme="gray"),
                    rx.cond(S.people_chart.length() > 0, rx.box(chart, width="100%", id="chart-people")),
                    _table("people", S.people_rows))


def _help() -> rx.Component:
    return rx.el.details(
        rx.el.summary(rx.text("How these figures are computed", size="2", weight="medium", as_="span"),
                      cursor="pointer"),
        rx.vstack(*[rx.text(rx.text(term + ": ", weight="bold", as_="span"), text, size="2") for term, text in HELP],
                  spacing="2", padding_top="8px"),
        id="analytics-help", width="100%",
    )


@signed_in
def analytics_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Analytics", size="7", id="page-title"),
        _filters(),
        error_callout(S.error, "analytics-error"),
        rx.cond(S.loaded, rx.vstack(
            _stats(),
            _daily(),
            _people(),
            rx.grid(_section("Noisiest services", "services", _table("services", S.services_rows)),
                    _section("Noisiest alert sources", "sources", _table("sources", S.sources_rows)),
                    columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%"),
            spacing="4", width="100%",
        ), rx.center(rx.spinner(size="3"), width="100%", padding="24px")),
        _help(),
        spacing="4", width="100%",
    )
