"""PURE status page rules: what state a component is in, its 90-day history, and the page's overall status.

A component reflects the incidents of the services linked to it. While it has no manual override:

* no open incident (triggered or acknowledged; snoozed ones are still open) -> ``operational``
* only low-urgency open incidents -> ``degraded_performance``
* a high-urgency open incident on some of its services -> ``partial_outage``
* a high-urgency open incident on every one of its services -> ``major_outage`` (so, with one linked
  service, any high-urgency incident is a major outage)
* a service in a maintenance window counts none of its incidents (alerts during planned work are expected);
  with nothing worse, a component with a service in maintenance is ``under_maintenance``

An admin's manual override beats the derived state until it is cleared (a component with no services is
operational unless overridden). The history bars apply the same rules to each incident alone (an incident on one
of several services is a partial outage that day); uptime counts the minutes during which a high-urgency incident
was open on any linked service as down. Overrides are not kept in history.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from opsknight.models import ComponentStatus, PublicStatus

HISTORY_DAYS = 90
NO_DATA = "no_data"  # a history day before the component existed
SEVERITY = {s: i for i, s in enumerate(ComponentStatus)}  # the enum lists states best first
LABELS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
    ComponentStatus.DEGRADED: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
}
DAY_LABELS = {NO_DATA: "No data", **LABELS}
# The page's overall status, Statuspage's indicator and words, by its worst component.
INDICATORS = {
    ComponentStatus.OPERATIONAL: ("none", "All Systems Operational"),
    ComponentStatus.UNDER_MAINTENANCE: ("maintenance", "Service Under Maintenance"),
    ComponentStatus.DEGRADED: ("minor", "Minor Service Outage"),
    ComponentStatus.PARTIAL_OUTAGE: ("major", "Partial System Outage"),
    ComponentStatus.MAJOR_OUTAGE: ("critical", "Major System Outage"),
}


@dataclass(frozen=True)
class Span:
    """One incident as the status page sees it: on which service, how urgent, open over [start, end)."""

    service_id: int
    urgency: str
    start: datetime
    end: datetime | None  # None: still open


def worst(statuses: Iterable[str]) -> str:
    """The worst of some states (``no_data`` counts as better than any)."""
    return max(statuses, key=lambda s: SEVERITY.get(s, -1), default=ComponentStatus.OPERATIONAL)


def derived_status(service_ids: Sequence[int], open_spans: Iterable[Span],
                   in_maintenance: Collection[int] = ()) -> str:
    """The state the open incidents put a component in (the rules in this module's docstring)."""
    linked = set(service_ids)
    counted = linked - set(in_maintenance)  # alerts during planned work are expected: they do not count
    high, low = set(), set()
    for span in open_spans:
        if span.service_id in counted:
            (high if span.urgency == "high" else low).add(span.service_id)
    if high:
        return ComponentStatus.MAJOR_OUTAGE if high == linked else ComponentStatus.PARTIAL_OUTAGE
    if low:
        return ComponentStatus.DEGRADED
    return ComponentStatus.UNDER_MAINTENANCE if counted != linked else ComponentStatus.OPERATIONAL


def component_status(manual: str | None, service_ids: Sequence[int], open_spans: Iterable[Span],
                     in_maintenance: Collection[int] = ()) -> str:
    return manual or derived_status(service_ids, open_spans, in_maintenance)


def _span_status(span: Span, linked_count: int) -> str:
    if span.urgency != "high":
        return ComponentStatus.DEGRADED
    return ComponentStatus.MAJOR_OUTAGE if linked_count == 1 else ComponentStatus.PARTIAL_OUTAGE


def _merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The union of the intervals as disjoint intervals, in order."""
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _merged_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    """Seconds covered by the union of the intervals (overlapping incidents are down once, not twice)."""
    return sum((end - start).total_seconds() for start, end in _merged(intervals))


@dataclass
class Days:
    """What incidents put on each UTC day of a component's history: the worst state, and the intervals of outage
    (high urgency) clipped to that day."""

    status: dict[date, str]
    down: dict[date, list[tuple[datetime, datetime]]]

    def copy(self) -> Days:
        return Days(dict(self.status), {d: list(v) for d, v in self.down.items()})

    def to_json(self) -> dict:
        """Plain JSON, each day's outage intervals merged first (a few per day, whatever the incident count)."""
        return {"status": {d.isoformat(): s for d, s in self.status.items()},
                "down": {d.isoformat(): [[a.timestamp(), b.timestamp()] for a, b in _merged(v)]
                         for d, v in self.down.items() if v}}

    @classmethod
    def from_json(cls, raw: dict) -> Days:
        def instant(seconds: float) -> datetime:
            return datetime.fromtimestamp(seconds, UTC)

        return cls({date.fromisoformat(d): s for d, s in raw["status"].items()},
                   {date.fromisoformat(d): [(instant(a), instant(b)) for a, b in v] for d, v in raw["down"].items()})


def _window(now: datetime, since: datetime | None, days: int) -> tuple[date, date, date, datetime]:
    """(first day shown, first day the component existed, today, start of the counted window)."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    first_known = max(first, since.astimezone(UTC).date()) if since is not None else first
    return first, first_known, today, datetime.combine(first_known, time(), UTC)


def tally(service_ids: Sequence[int], spans: Iterable[Span], now: datetime, since: datetime | None = None,
          days: int = HISTORY_DAYS, onto: Days | None = None) -> Days:
    """Add what the spans did to each day (onto a copy of ``onto``: days tallied earlier, e.g. from incidents
    that ended before today, which never change)."""
    linked = set(service_ids)
    first, first_known, today, window_start = _window(now, since, days)
    if onto is None:
        onto = Days({first + timedelta(days=i): NO_DATA if first + timedelta(days=i) < first_known
                     else ComponentStatus.OPERATIONAL.value for i in range(days)}, {})
    result = onto.copy()
    for span in spans:
        if span.service_id not in linked or (span.end is not None and span.end <= window_start):
            continue
        start, end = max(span.start, window_start), min(span.end or now, now)
        if end <= start:
            continue
        state = _span_status(span, len(linked))
        day = start.date()
        while day <= end.date() and day <= today:
            result.status[day] = worst((result.status[day], state))
            if span.urgency == "high":
                day_start = datetime.combine(day, time(), UTC)
                result.down.setdefault(day, []).append((max(start, day_start),
                                                        min(end, day_start + timedelta(days=1))))
            day += timedelta(days=1)
    return result


def history(service_ids: Sequence[int], spans: Iterable[Span], now: datetime, since: datetime | None = None,
            days: int = HISTORY_DAYS, settled: Days | None = None) -> dict:
    """The last ``days`` UTC days (oldest first, today last): each day's worst state and minutes of outage, and
    the uptime percentage. Days before the component existed (``since``; None: it always did) are ``no_data``
    and not counted: uptime runs from the start of the day it was added to now. ``settled``: the tally of
    incidents that ended before today (``tally``), so that only the rest need reading again."""
    tallied = tally(service_ids, spans, now, since, days, onto=settled)
    minutes = {d: _merged_seconds(tallied.down.get(d, [])) / 60 for d in tallied.status}
    window_start = _window(now, since, days)[3]
    observed = (now - window_start).total_seconds()
    down = 60 * sum(minutes.values())  # the days partition time: the union per day adds up to the union
    uptime = 100.0 if observed <= 0 else max(0.0, 100.0 * (1 - down / observed))
    return {
        "uptime": round(uptime, 3),
        "days": [{"date": d.isoformat(), "status": s, "outage_minutes": round(minutes[d])}
                 for d, s in tallied.status.items()],
    }


def overall(statuses: Iterable[str]) -> dict[str, str]:
    indicator, description = INDICATORS[ComponentStatus(worst(statuses))]  # no_data is never a current state
    return {"indicator": indicator, "description": description}


def public_status(resolved: bool, updates: Sequence[dict]) -> str:
    """An incident's public stage: resolved once it is resolved, else its latest public update's, else
    investigating."""
    if resolved:
        return PublicStatus.RESOLVED
    return updates[-1]["status"] if updates else PublicStatus.INVESTIGATING


def public_name(public_title: str | None, urgency: str, component_names: Sequence[str]) -> str:
    """What the public reads as the incident's name: the title a responder gave it, else one made from the
    affected components. Never the internal title, which comes from alerts."""
    if public_title:
        return public_title
    what = "Outage" if urgency == "high" else "Degraded performance"
    return f"{what}: {', '.join(component_names)}" if component_names else what
