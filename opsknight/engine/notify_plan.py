"""Pure: which contact methods of one user get a page, and when, for one escalation step.

Each user has contact methods and rules ("on high urgency: push at 0 min, SMS at 2 min, WhatsApp at 5 min").
A user with no rules for the urgency still gets paged by sensible defaults, because an on-call engineer who
never configured rules must not sleep through an outage. Quiet hours (in the user's time zone) hold back
low-urgency pages only; high urgency always goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Default rules: (channel, delay minutes) by urgency, used when a user has no rule for the urgency.
DEFAULT_RULES = {
    "high": (("push", 0), ("slack", 0), ("email", 0), ("sms", 1), ("whatsapp", 1)),
    "low": (("push", 0), ("slack", 0), ("email", 0)),
}


@dataclass(frozen=True)
class ContactInfo:
    id: int
    kind: str
    enabled: bool = True


@dataclass(frozen=True)
class RuleInfo:
    id: int
    contact_method_id: int
    urgency: str  # "high" | "low" | "any"
    delay_minutes: int


@dataclass(frozen=True)
class PlannedSend:
    key: str  # stable within the user: part of the delivery's idempotency key
    contact_method_id: int
    channel: str
    send_at: datetime
    rule_id: int | None = None  # None: the defaults of a user without rules


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(quiet_hours: dict | None, time_zone: str, now: datetime) -> datetime | None:
    """End of the quiet window containing `now`, or None when `now` is not in quiet hours."""
    if not quiet_hours:
        return None
    try:
        zone = ZoneInfo(time_zone or "UTC")
        start, end = _parse_hhmm(quiet_hours["start"]), _parse_hhmm(quiet_hours["end"])
    except (KeyError, ValueError, TypeError, AttributeError, ZoneInfoNotFoundError):
        return None  # bad settings never silence a page
    local = now.astimezone(zone)
    today_start = datetime.combine(local.date(), start, zone)
    today_end = datetime.combine(local.date(), end, zone)
    if start <= end:
        window = (today_start, today_end)
        inside = today_start <= local < today_end
    elif local.time() >= start:  # crosses midnight, and we are before midnight
        window = (today_start, datetime.combine(local.date() + timedelta(days=1), end, zone))
        inside = True
    else:  # crosses midnight, and we are after it
        window = (today_start - timedelta(days=1), today_end)
        inside = local < today_end
    return window[1].astimezone(now.tzinfo) if inside else None


def plan(
    contacts: list[ContactInfo], rules: list[RuleInfo], urgency: str, now: datetime,
    time_zone: str = "UTC", quiet_hours: dict | None = None,
) -> list[PlannedSend]:
    """The sends for one user at one step, in time order."""
    usable = {c.id: c for c in contacts if c.enabled}
    chosen = [r for r in rules if r.urgency in (urgency, "any") and r.contact_method_id in usable]
    if chosen:
        sends = [PlannedSend(f"r{r.id}", r.contact_method_id, usable[r.contact_method_id].kind,
                             now + timedelta(minutes=max(0, r.delay_minutes)), r.id) for r in chosen]
    else:
        delays = dict(DEFAULT_RULES.get(urgency, DEFAULT_RULES["high"]))
        sends = [PlannedSend(f"d{c.id}", c.id, c.kind, now + timedelta(minutes=delays[c.kind]))
                 for c in usable.values() if c.kind in delays]
    if urgency == "low":
        held = quiet_until(quiet_hours, time_zone, now)
        if held is not None:
            sends = [PlannedSend(s.key, s.contact_method_id, s.channel, max(s.send_at, held), s.rule_id)
                     for s in sends]
    return sorted(sends, key=lambda s: (s.send_at, s.key))
