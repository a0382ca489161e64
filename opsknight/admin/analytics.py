"""Response analytics for the page and `/api/v1/analytics`: parse the window and filter, authorize, aggregate
(`engine.analytics`, where the figures are defined), and the same rows as CSV.

The window is [from, to) in calendar days of a time zone — the viewer's own (`users.time_zone`) unless `tz`
says otherwise — by default the last 30 days including today, at most `MAX_DAYS`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Callable, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, ConfigDict, Field
from sqlmodel import Session, select

from opsknight.accounts import Principal
from opsknight.admin import Invalid, NotFound, authorize, parse
from opsknight.admin.fields import Id, Input, TimeZone
from opsknight.engine import analytics, clock
from opsknight.models import Service, Team
from opsknight.permissions import Permission

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _day(value: Any) -> date:
    # Strict YYYY-MM-DD (date.fromisoformat takes other spellings too), in years a window can sensibly hold.
    if isinstance(value, date):
        value = value.isoformat()
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a calendar date") from None
    if not 2000 <= day.year <= 2999:
        raise ValueError("must be between the years 2000 and 2999")
    return day


Day = Annotated[date, BeforeValidator(_day)]


class AnalyticsQuery(Input):
    """`from` and `to` are calendar days, `to` excluded; `tz` the zone they are days of."""

    from_: Day | None = Field(default=None, alias="from")
    to: Day | None = None
    tz: TimeZone | None = None
    team_id: Id | None = None
    service_id: Id | None = None
    urgency: Literal["high", "low"] | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: Callable[[Session, analytics.Scope], list[dict]]


def _summary_rows(db: Session, scope: analytics.Scope) -> list[dict]:
    return [analytics.summary(db, scope)]


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("summary", "Summary", ("incidents", "acknowledged", "mtta_median_s", "mtta_p90_s", "resolved",
                                 "mttr_median_s", "mttr_p90_s", "escalated", "escalation_percent"), _summary_rows),
    Table("daily", "Incidents per day", ("day", "incidents", "high", "low"), analytics.daily),
    Table("people", "On-call load per person", ("user_id", "name", "email", "time_zone", "pages",
                                                "sleep_hour_pages", "sleep_hour_percent", "incidents_acknowledged"),
          analytics.people),
    Table("services", "Noisiest services", ("service_id", "service", "team", "incidents", "alerts"),
          analytics.services),
    Table("sources", "Noisiest alert sources", ("source", "alerts", "incidents"), analytics.sources),
)}


def scope_for(db: Session, actor: Principal, query: dict | AnalyticsQuery) -> analytics.Scope:
    """The validated window and filter. Today is the actor's (or `tz`'s) today, from the injectable clock."""
    q = parse(AnalyticsQuery, query)
    zone = q.tz or actor.time_zone or "UTC"
    today = clock.now().astimezone(ZoneInfo(zone)).date()
    end = q.to or today + timedelta(days=1)
    start = q.from_ or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise Invalid("from must be before to (to is excluded: one day is from=D&to=D+1)", ["from", "to"])
    if (end - start).days > MAX_DAYS:
        raise Invalid(f"The window is at most {MAX_DAYS} days", ["from", "to"])
    if q.team_id is not None and db.get(Team, q.team_id) is None:
        raise NotFound(f"No team {q.team_id}", ["team_id"])
    if q.service_id is not None and db.get(Service, q.service_id) is None:
        raise NotFound(f"No service {q.service_id}", ["service_id"])

    def midnight(day: date) -> datetime:  # the instant the day begins there (DST: not always 24 h after the last)
        return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)

    return analytics.Scope(start=midnight(start), end=midnight(end), time_zone=zone, first_day=start,
                           days=(end - start).days, team_id=q.team_id, service_id=q.service_id, urgency=q.urgency)


def _window(scope: analytics.Scope) -> dict:
    return {"from": scope.first_day.isoformat(), "to": (scope.first_day + timedelta(days=scope.days)).isoformat(),
            "tz": scope.time_zone, "start": scope.start.isoformat(), "end": scope.end.isoformat(),
            "team_id": scope.team_id, "service_id": scope.service_id, "urgency": scope.urgency}


def report(db: Session, actor: Principal | None, query: dict | AnalyticsQuery) -> dict[str, Any]:
    """Every figure for the window: `summary` (one dict) and the rows of each other table."""
    actor = authorize(actor, Permission.READ)
    scope = scope_for(db, actor, query)
    out: dict[str, Any] = {"window": _window(scope)}
    for table in TABLES.values():
        rows = table.rows(db, scope)
        out[table.name] = rows[0] if table.name == "summary" else rows
    return out


def table(db: Session, actor: Principal | None, name: str, query: dict | AnalyticsQuery) -> dict[str, Any]:
    """One table's rows (`summary`: one row)."""
    actor = authorize(actor, Permission.READ)
    if name not in TABLES:
        raise NotFound(f"No analytics table {name!r}")
    scope = scope_for(db, actor, query)
    return {"window": _window(scope), "columns": list(TABLES[name].columns), "data": TABLES[name].rows(db, scope)}


def filter_choices(db: Session, actor: Principal | None) -> dict[str, list[dict]]:
    """Teams and services for the page's filter pickers."""
    authorize(actor, Permission.READ)
    teams = db.exec(select(Team.id, Team.name).order_by(Team.name).limit(1000)).all()
    services = db.exec(select(Service.id, Service.name).order_by(Service.name).limit(1000)).all()
    return {"teams": [{"id": i, "name": n} for i, n in teams], "services": [{"id": i, "name": n} for i, n in services]}


# --- CSV -------------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """A value as the table and the CSV show it: None is empty, numbers as JSON has them, text as is."""
    return "" if value is None else str(value)


def _safe(text: str, value: Any) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula (OWASP "CSV injection"): a leading ' makes it
    # text. Only text is guarded: our numbers are never negative, and a name like "-db-" must not run.
    return "'" + text if isinstance(value, str) and text.startswith(_FORMULA_START) else text


def csv_text(name: str, rows: list[dict]) -> str:
    """`rows` of table `name` as CSV: a header of the column names, then one line per row (RFC 4180, CRLF)."""
    columns = TABLES[name].columns
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_safe(cell(row.get(c)), row.get(c)) for c in columns])
    return out.getvalue()
