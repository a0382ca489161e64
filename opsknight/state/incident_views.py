"""What the incident pages share: incidents as the UI shows them (times in the viewer's time zone), the actions'
outcome as a toast, and the choices the filters and forms offer. No SQL: reads go through
`admin.incident_views`, actions through `admin.incidents`."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import reflex as rx

from opsknight.admin import AdminError, incident_views
from opsknight.admin import incidents as incident_admin
from opsknight.engine import actions, clock
from opsknight.state.admin_call import admin_call
from opsknight.state.guard import actor
from opsknight.state.services import Choice  # what a select offers: id and name

VIA = "web"


async def choices() -> dict[str, list[Choice]]:
    """What filters and forms offer: services, teams, users, schedules, policies (see `filter_choices`)."""
    found = await admin_call(incident_views.filter_choices)
    return {kind: [Choice(str(i), name) for i, name in pairs] for kind, pairs in found.items()}


@dataclasses.dataclass
class IncidentRow:
    id: int = 0
    number: int = 0
    title: str = ""
    status: str = ""
    urgency: str = ""
    service: str = ""
    service_id: int = 0
    team: str = ""
    assignee: str = ""  # the assignee, else who acknowledged it, else ""
    alert_count: int = 0
    age: str = ""  # "4 min ago"
    created: str = ""  # "Sun 06 Dec 03:12" in the viewer's zone
    status_line: str = ""  # "Acknowledged by Ann via slack 3 min ago"
    highlight: bool = False  # changed by the last live update


def local(value: str | None, time_zone: str, fmt: str = "%a %d %b %H:%M") -> str:
    """An ISO instant in the viewer's time zone."""
    if not value:
        return ""
    try:
        zone = ZoneInfo(time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.fromisoformat(value).astimezone(zone).strftime(fmt)


def relative(value: str | None, now: datetime) -> str:
    return actions.ago(datetime.fromisoformat(value), now) if value else ""


def status_line(row: dict[str, Any], now: datetime) -> str:
    if row["status"] == "acknowledged":
        who = row.get("acknowledged_by_name") or "someone"
        via = f" via {row['acknowledged_via']}" if row.get("acknowledged_via") else ""
        snoozed = f", snoozed until {row['snoozed_until'][11:16]} UTC" if row.get("snoozed_until") else ""
        return f"Acknowledged by {who}{via} {relative(row['acknowledged_at'], now)}{snoozed}"
    if row["status"] == "resolved":
        who = row.get("resolved_by_name") or row.get("resolved_by_source") or "someone"
        return f"Resolved by {who} {relative(row['resolved_at'], now)}"
    return f"Triggered {relative(row['created_at'], now)}"


def incident_row(row: dict[str, Any], time_zone: str, now: datetime, highlight: bool = False) -> IncidentRow:
    return IncidentRow(
        id=row["id"], number=row["number"], title=row["title"], status=row["status"], urgency=row["urgency"],
        service=row["service"]["name"], service_id=row["service"]["id"],
        team=(row.get("team") or {}).get("name") or "",
        assignee=row.get("assignee_name") or row.get("acknowledged_by_name") or "",
        alert_count=row["alert_count"], age=relative(row["created_at"], now),
        created=local(row["created_at"], time_zone), status_line=status_line(row, now), highlight=highlight,
    )


async def act(fn: Callable[..., Any], *args: Any, done: str) -> tuple[rx.event.EventSpec, bool]:
    """Run an incident action as the checked actor, off the event loop: (a toast saying how it went, whether it
    was done — committed — by this call)."""
    principal = actor()
    try:
        await asyncio.to_thread(fn, principal, *args, via=VIA)
    except incident_admin.LostRace as exc:
        return rx.toast.warning(exc.message), False
    except AdminError as exc:
        return rx.toast.error(exc.message), False
    return rx.toast.success(done), True


def now() -> datetime:
    return clock.now()
