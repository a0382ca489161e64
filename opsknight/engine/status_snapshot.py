"""Everything the public status page shows, read from PostgreSQL in a few bounded queries into one plain dict.

The dict is what the cache keeps (``api.status_cache``) and what the HTML page, the Statuspage-shaped JSON and the
Atom feed are all made from, so the three can never disagree. It holds only public things: component names and
states, and for incidents their public name, stage and public updates — never internal titles, notes or people.

Incidents shown: those of services linked to a component (merged ones aside: their alerts live on in the incident
they were merged into), open ones first, then those resolved in the last ``PAST_DAYS`` days, at most
``MAX_INCIDENTS`` (Statuspage's incidents.json gives the 50 most recent). The history bars read incidents created
up to ``HISTORY_LEAD`` before the 90-day window, plus every open one: an incident opened earlier than that and
resolved inside the window is missed by the bars.
"""

from __future__ import annotations

import hashlib
import json
import time as clock_time
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

from sqlmodel import Session, and_, col, or_, select

from opsknight.engine import status_page
from opsknight.engine.ingest import in_maintenance
from opsknight.engine.status_page import Span
from opsknight.models import (
    Incident,
    IncidentStatus,
    Service,
    StatusPageComponent,
    StatusPageComponentService,
    StatusUpdate,
)

PAGE_ID = "opsknight"
PAST_DAYS = 14
MAX_INCIDENTS = 50
MAX_SPANS = 50_000  # bounds the history read for a very noisy service
HISTORY_LEAD = timedelta(days=7)
SETTLED_SECONDS = 600


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _component_json(row: StatusPageComponent, state: str) -> dict[str, Any]:
    return {"id": str(row.id), "name": row.name, "status": state, "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at or row.created_at), "position": row.position,
            "description": row.description or None, "showcase": True,
            "start_date": row.created_at.astimezone(UTC).date().isoformat(), "group_id": None, "page_id": PAGE_ID,
            "group": False, "only_show_if_degraded": False}


def _update_json(row: StatusUpdate, component_refs: list[dict]) -> dict[str, Any]:
    return {"id": str(row.id), "status": row.status, "body": row.body, "incident_id": str(row.incident_id),
            "created_at": iso(row.created_at), "updated_at": iso(row.created_at), "display_at": iso(row.created_at),
            "affected_components": component_refs, "deliver_notifications": False, "custom_tweet": None,
            "tweet_id": None}


def _incident_json(row: Incident, updates: list[StatusUpdate], components: list[dict], base_url: str) -> dict:
    refs = [{"code": c["id"], "name": c["name"], "old_status": c["status"], "new_status": c["status"]}
            for c in components]
    shaped = [_update_json(u, refs) for u in updates]
    stage = status_page.public_status(row.status == IncidentStatus.RESOLVED, [{"status": u.status} for u in updates])
    monitoring = next((u.created_at for u in reversed(updates) if u.status == "monitoring"), None)
    changed = max([row.created_at, *(t for t in (row.updated_at, row.resolved_at) if t),
                   *(u.created_at for u in updates)])
    return {
        "id": str(row.id), "name": status_page.public_name(row.public_title, row.urgency, [c["name"] for c in components]),
        "status": stage, "created_at": iso(row.created_at), "updated_at": iso(changed),
        "monitoring_at": iso(monitoring), "resolved_at": iso(row.resolved_at),
        "impact": "major" if row.urgency == "high" else "minor",
        "shortlink": f"{base_url}/status#incident-{row.id}", "started_at": iso(row.created_at), "page_id": PAGE_ID,
        "incident_updates": list(reversed(shaped)),  # Statuspage lists the newest update first
        "components": components,
    }


_settled_cache: dict[str, tuple[Any, float, dict[int, status_page.Days]]] = {}


class SharedStore(Protocol):
    """Where one process leaves the settled tally for the others (Redis, in `api.status_cache`)."""

    def get(self, name: str) -> bytes | str | None: ...

    def set(self, name: str, value: str, seconds: int) -> None: ...


def _settled(db: Session, rows: list[StatusPageComponent], links: dict[int, list[int]], midnight: datetime,
             window_start: datetime, shared: SharedStore | None) -> dict[int, status_page.Days]:
    """Each component's history tallied from the incidents resolved before today: they never change, so they are
    read once a day (and again after SETTLED_SECONDS, for the rare edit of an old incident, or when the
    components change) instead of on every rebuild — the bulk of 90 days of incidents. One process computes it
    and leaves it in `shared` for the others."""
    key = (midnight, tuple((r.id, tuple(links[r.id]), r.created_at) for r in rows))
    hit = _settled_cache.get("last")
    if hit is not None and hit[0] == key and clock_time.monotonic() - hit[1] < SETTLED_SECONDS:
        return hit[2]
    name = hashlib.sha1(repr(key).encode()).hexdigest()
    raw = shared.get(name) if shared is not None else None
    if raw:
        tallied = {int(k): status_page.Days.from_json(v) for k, v in json.loads(raw).items()}
    else:
        service_ids = sorted({s for ids in links.values() for s in ids})
        spans = [Span(*r, end) for *r, end in db.exec(
            select(Incident.service_id, Incident.urgency, Incident.created_at, Incident.resolved_at)
            .where(col(Incident.service_id).in_(service_ids), col(Incident.merged_into_id).is_(None),
                   Incident.status == IncidentStatus.RESOLVED, Incident.created_at >= window_start - HISTORY_LEAD,
                   Incident.resolved_at < midnight)
            .limit(MAX_SPANS)).all()] if service_ids else []
        tallied = {r.id: status_page.tally(links[r.id], spans, midnight, since=r.created_at) for r in rows}
        if shared is not None:
            shared.set(name, json.dumps({str(k): v.to_json() for k, v in tallied.items()}), SETTLED_SECONDS)
    _settled_cache["last"] = (key, clock_time.monotonic(), tallied)
    return tallied


def maintained(db: Session, service_ids: list[int], now: datetime) -> set[int]:
    """Which of the services are in a maintenance window now (`engine.ingest.in_maintenance`, the rule paging
    follows)."""
    if not service_ids:
        return set()
    rows = db.exec(select(Service).where(col(Service.id).in_(service_ids), col(Service.maintenance_until) > now)).all()
    return {s.id for s in rows if in_maintenance(s, now)}


def forget() -> None:
    """Drop the settled tally (tests switch databases)."""
    _settled_cache.clear()


def load(db: Session, now: datetime, base_url: str, title: str, shared: SharedStore | None = None) -> dict[str, Any]:
    """The snapshot: page, overall status, components (Statuspage shape), incidents (Statuspage shape) and each
    component's 90-day history. `shared`: where processes share the settled part of the history."""
    rows = db.exec(select(StatusPageComponent).order_by(StatusPageComponent.position, StatusPageComponent.id)).all()
    links: dict[int, list[int]] = {r.id: [] for r in rows}
    for link in db.exec(select(StatusPageComponentService)).all():
        links.setdefault(link.component_id, []).append(link.service_id)
    service_ids = sorted({s for ids in links.values() for s in ids})
    window_start = now - timedelta(days=status_page.HISTORY_DAYS)
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    settled = _settled(db, rows, links, midnight, window_start, shared)
    recent = []  # incidents open now or resolved today: plain rows, no ORM objects
    if service_ids:
        recent = db.exec(
            select(Incident.service_id, Incident.urgency, Incident.status == IncidentStatus.RESOLVED,
                   Incident.created_at, Incident.resolved_at)
            .where(col(Incident.service_id).in_(service_ids), col(Incident.merged_into_id).is_(None),
                   or_(Incident.status != IncidentStatus.RESOLVED,
                       and_(Incident.created_at >= window_start - HISTORY_LEAD, Incident.resolved_at >= midnight)))
            .limit(MAX_SPANS)
        ).all()
    spans = [Span(service_id, urgency, created, resolved_at if resolved else None)
             for service_id, urgency, resolved, created, resolved_at in recent]
    open_spans = [s for s in spans if s.end is None]

    in_maintenance = maintained(db, service_ids, now)
    components, history = [], {}
    for row in rows:
        state = status_page.component_status(row.manual_status, links[row.id], open_spans, in_maintenance)
        components.append(_component_json(row, state))
        history[str(row.id)] = status_page.history(links[row.id], spans, now, since=row.created_at,
                                                   settled=settled[row.id])

    by_service: dict[int, list[dict]] = {}
    for row, shaped in zip(rows, components, strict=True):
        for service_id in links[row.id]:
            by_service.setdefault(service_id, []).append(shaped)
    listed: list[Incident] = []
    if service_ids:
        linked = (col(Incident.service_id).in_(service_ids), col(Incident.merged_into_id).is_(None))
        past_since = now - timedelta(days=PAST_DAYS)
        listed = list(db.exec(select(Incident).where(*linked, Incident.status != IncidentStatus.RESOLVED)
                              .order_by(col(Incident.created_at).desc()).limit(MAX_INCIDENTS)).all())
        listed += db.exec(select(Incident).where(*linked, Incident.status == IncidentStatus.RESOLVED,
                                                 Incident.created_at >= past_since - HISTORY_LEAD,
                                                 Incident.resolved_at >= past_since)
                          .order_by(col(Incident.resolved_at).desc()).limit(MAX_INCIDENTS - len(listed))).all()
    updates: dict[int, list[StatusUpdate]] = {i.id: [] for i in listed}
    if listed:
        for update in db.exec(select(StatusUpdate).where(col(StatusUpdate.incident_id).in_(list(updates)))
                              .order_by(StatusUpdate.created_at, StatusUpdate.id)).all():
            updates[update.incident_id].append(update)
    shaped_incidents = [_incident_json(i, updates[i.id], by_service.get(i.service_id, []), base_url) for i in listed]

    changed = [c["updated_at"] for c in components] + [i["updated_at"] for i in shaped_incidents]
    return {
        "page": {"id": PAGE_ID, "name": title, "url": f"{base_url}/status", "time_zone": "Etc/UTC",
                 "updated_at": max(changed, default=iso(now))},
        "status": status_page.overall(c["status"] for c in components),
        "components": components,
        "incidents": shaped_incidents,
        "history": history,
        "generated_at": iso(now),
    }
