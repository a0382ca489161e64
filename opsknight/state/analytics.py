"""The analytics page's state: the filter form, the report from `admin.analytics` (no SQL here), the charts'
data, and each table as rows of cells. A download is the CSV of exactly the rows on screen: the report is kept
in a backend-only var and turned into CSV by the same function the API uses.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from opsknight.admin import AdminError
from opsknight.admin import analytics
from opsknight.permissions import Permission
from opsknight.state.admin_call import admin_call
from opsknight.state.auth import AuthState
from opsknight.state.guard import guarded
from opsknight.state.services import Choice

CHART_PEOPLE = 15  # people in the chart (the table lists everyone)
CHART_NAME = 16  # characters of a name beside its bar (the table has it whole)


@dataclasses.dataclass
class Stat:
    label: str = ""
    value: str = ""
    detail: str = ""
    id: str = ""


def duration(seconds: float | None) -> str:
    """30 s, 4 min 05 s, 2 h 10 min, 3 d 4 h — or "—" when there is nothing to measure."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def stats(summary: dict[str, Any]) -> list[Stat]:
    rate = summary["escalation_percent"]
    return [
        Stat("Incidents", str(summary["incidents"]), f"{summary['acknowledged']} acknowledged, "
             f"{summary['resolved']} resolved", "stat-incidents"),
        Stat("MTTA median", duration(summary["mtta_median_s"]), f"p90 {duration(summary['mtta_p90_s'])}",
             "stat-mtta"),
        Stat("MTTR median", duration(summary["mttr_median_s"]), f"p90 {duration(summary['mttr_p90_s'])}",
             "stat-mttr"),
        Stat("Escalated", "—" if rate is None else f"{rate:g} %",
             f"{summary['escalated']} beyond the first step", "stat-escalated"),
    ]


def _short(name: str) -> str:
    return name if len(name) <= CHART_NAME else name[:CHART_NAME - 1] + "…"


def cells(name: str, rows: list[dict]) -> list[list[str]]:
    """A table's rows as the page shows them: the CSV's cells, column for column."""
    columns = analytics.TABLES[name].columns
    return [[analytics.cell(row.get(c)) for c in columns] for row in rows]


class AnalyticsState(AuthState):
    form: dict[str, str] = {}  # what the filter form last sent (dates YYYY-MM-DD, ids, urgency)
    window_label: str = ""
    time_zone: str = ""
    teams: list[Choice] = []
    services: list[Choice] = []
    stats: list[Stat] = []
    daily_chart: list[dict[str, Any]] = []
    people_chart: list[dict[str, Any]] = []
    people_chart_height: int = 0  # a bar per person: the chart grows with them instead of fattening the bars
    daily_rows: list[list[str]] = []
    people_rows: list[list[str]] = []
    services_rows: list[list[str]] = []
    sources_rows: list[list[str]] = []
    error: str = ""
    loaded: bool = False
    _report: dict[str, Any] = {}  # backend only: the rows the tables and downloads are made of

    def _show(self, report: dict[str, Any]) -> None:
        self._report = report
        window = report["window"]
        self.form = {"from": window["from"], "to": window["to"], "team_id": str(window["team_id"] or ""),
                     "service_id": str(window["service_id"] or ""), "urgency": window["urgency"] or ""}
        self.time_zone = window["tz"]
        self.window_label = f"{window['from']} to {window['to']} (not included), days in {window['tz']}"
        self.stats = stats(report["summary"])
        self.daily_chart = [{"day": r["day"][5:], "high": r["high"], "low": r["low"]} for r in report["daily"]]
        self.people_chart = [{"name": _short(r["name"]), "asleep": r["sleep_hour_pages"],
                              "awake": r["pages"] - r["sleep_hour_pages"]}
                             for r in report["people"][:CHART_PEOPLE] if r["pages"]]
        self.people_chart_height = 90 + 34 * len(self.people_chart)
        self.daily_rows, self.people_rows = cells("daily", report["daily"]), cells("people", report["people"])
        self.services_rows, self.sources_rows = cells("services", report["services"]), cells("sources",
                                                                                             report["sources"])
        self.loaded = True

    async def _fetch(self, query: dict[str, str]) -> None:
        try:
            self._show(await admin_call(analytics.report, {k: v for k, v in query.items() if v}))
            self.error = ""
        except AdminError as exc:
            self.error = exc.message

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        choices = await admin_call(analytics.filter_choices)
        self.teams = [Choice(str(t["id"]), t["name"]) for t in choices["teams"]]
        self.services = [Choice(str(s["id"]), s["name"]) for s in choices["services"]]
        await self._fetch({})

    @rx.event
    @guarded(Permission.READ)
    async def apply_filters(self, form: dict):
        await self._fetch({k: str(form.get(k) or "").strip() for k in ("from", "to", "team_id", "service_id",
                                                                        "urgency")})

    @rx.event
    @guarded(Permission.READ)
    async def download(self, name: str):
        """The table `name` as CSV, exactly as shown (the last report loaded)."""
        if name not in analytics.TABLES or not self._report:
            return rx.toast.error("Nothing to download yet")
        rows = self._report[name]
        rows = [rows] if name == "summary" else rows
        window = self._report["window"]
        return rx.download(data=analytics.csv_text(name, rows),
                           filename=f"opsknight-{name}-{window['from']}-to-{window['to']}.csv")
