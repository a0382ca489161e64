"""What the On call page shows, made from ``admin.my_oncall``'s answer: rows of plain text in the viewer's time
zone ("today 21:00", "in 5 h 12 min"), plus the UTC instants the swaps and the tests need. Pure: no I/O."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from opsknight.admin.schedule_input import time_zone_names
from opsknight.state.schedule_forms import Choice


@dataclasses.dataclass
class NowRow:
    label: str = ""  # "Primary" / "Payments policy"
    detail: str = ""  # "until today 21:00" / "step 1 via the Primary schedule"


@dataclasses.dataclass
class ShiftCard:
    key: str = ""  # "<schedule id>@<start>": what the give-away form names
    schedule_id: int = 0
    schedule: str = ""
    start: str = ""  # UTC ISO, as /api/v1/schedules/{id}/final answers
    end: str = ""
    when: str = ""  # "Tue 10 Mar 09:00 → Wed 11 Mar 09:00"
    duration: str = ""  # "lasts 24 h"
    relative: str = ""  # "now · ends in 5 h 12 min" / "starts in 2 d 3 h"
    current: bool = False
    colleagues: list[Choice] = dataclasses.field(default_factory=list)
    pick: str = ""  # the colleague chosen to give it to


@dataclasses.dataclass
class BlockRow:
    start: str = ""
    end: str = ""
    who: str = ""  # a name, or "Nobody" for a gap
    user_id: int = 0  # 0: a gap
    gap: bool = False
    mine: bool = False
    when: str = ""


@dataclasses.dataclass
class ScheduleCard:
    id: int = 0
    name: str = ""
    on_call: str = ""  # names, or "Nobody"
    gap: bool = False
    mine: bool = False  # the viewer is on call there now
    next_change: str = ""  # "Bob E2E from today 21:00 (in 5 h)"
    error: str = ""
    blocks: list[BlockRow] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class BriefIncident:
    id: int = 0
    number: int = 0
    title: str = ""
    status: str = ""
    urgency: str = ""
    service: str = ""
    note: str = ""  # "snoozed until today 04:30" / "snooze ends today 04:30 (in 1 h)"


def viewer_zone(name: str | None) -> str:
    return name if name in time_zone_names() else "UTC"


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def when(value: str, tz: str, now: datetime) -> str:
    """"today 21:00", "tomorrow 09:00", else "Tue 10 Mar 09:00" — in ``tz``."""
    zone = ZoneInfo(tz)
    local, today = _at(value).astimezone(zone), now.astimezone(zone).date()
    day = {today: "today", today + timedelta(days=1): "tomorrow"}.get(local.date(), local.strftime("%a %d %b"))
    return f"{day} {local:%H:%M}"


def span(delta: timedelta) -> str:
    """"5 h 12 min", "2 d 3 h", "40 min"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def until_text(value: str, beyond: bool, tz: str, now: datetime) -> str:
    if beyond:
        return f"for more than {span(_at(value) - now)}"
    return f"until {when(value, tz, now)} (in {span(_at(value) - now)})"


def now_rows(data: dict[str, Any], tz: str, now: datetime) -> tuple[list[NowRow], list[NowRow]]:
    """(schedules I am on call for now, policies that page me now) as text rows."""
    schedules = [NowRow(s["name"], until_text(s["until"], s["until_beyond_horizon"], tz, now))
                 for s in data["now"]["schedules"]]
    names = {s["id"]: s["name"] for s in data["everyone"]}
    policies = []
    for policy in data["now"]["policies"]:
        steps = [f"step {step['step']} " + ", ".join(_via(v, names) for v in step["via"]) for step in policy["steps"]]
        policies.append(NowRow(policy["name"], "; ".join(steps)))
    return schedules, policies


def _via(target: dict[str, Any], schedule_names: dict[int, str]) -> str:
    if target["type"] == "schedule":
        return f"via {schedule_names.get(target['id'], 'a schedule')}"
    if target["type"] == "team":
        return f"via team {target['name'] or target['id']}"
    return "directly"


def shift_card(shift: dict[str, Any], colleagues: list[dict[str, Any]], tz: str, now: datetime) -> ShiftCard:
    start, end = _at(shift["start"]), _at(shift["end"])
    ending = "runs past the next 14 days" if shift["ends_beyond_horizon"] else f"ends in {span(end - now)}"
    return ShiftCard(
        key=f"{shift['schedule_id']}@{shift['start']}", schedule_id=shift["schedule_id"],
        schedule=shift["schedule_name"], start=shift["start"], end=shift["end"],
        when=f"{when(shift['start'], tz, now)} → {when(shift['end'], tz, now)}", duration=f"lasts {span(end - start)}",
        relative=f"on call now · {ending}" if shift["current"] else f"starts in {span(start - now)}",
        current=shift["current"], colleagues=[Choice(str(c["id"]), c["name"]) for c in colleagues])


def schedule_card(entry: dict[str, Any], names: dict[int, str], me: int, tz: str, now: datetime) -> ScheduleCard:
    def who(ids: list[int]) -> str:
        return ", ".join(names.get(u, f"user {u}") for u in ids) or "Nobody"

    nxt = ""
    if entry["next_change_at"]:
        nxt = (f"{who(entry['next_user_ids'])} from {when(entry['next_change_at'], tz, now)} "
               f"(in {span(_at(entry['next_change_at']) - now)})")
    blocks = [BlockRow(start=b["start"], end=b["end"], who=who(b["user_ids"]),
                       user_id=b["user_ids"][0] if len(b["user_ids"]) == 1 else 0, gap=b["gap"], mine=b["mine"],
                       when=f"{when(b['start'], tz, now)} → {when(b['end'], tz, now)}") for b in entry["blocks"]]
    return ScheduleCard(id=entry["id"], name=entry["name"], on_call=who(entry["user_ids"]), gap=entry["gap"],
                        mine=me in entry["user_ids"], next_change=nxt or "No change in the next 14 days",
                        error=entry["error"] or "", blocks=blocks)


def brief_incident(row: dict[str, Any], tz: str, now: datetime, expiring: bool = False) -> BriefIncident:
    note = ""
    if expiring:
        note = f"snooze ends {when(row['snoozed_until'], tz, now)} (in {span(_at(row['snoozed_until']) - now)})"
    elif row["snoozed"]:
        note = f"snoozed until {when(row['snoozed_until'], tz, now)}"
    return BriefIncident(id=row["id"], number=row["number"], title=row["title"], status=row["status"],
                         urgency=row["urgency"], service=row["service_name"], note=note)
