"""Heartbeat monitors: an incident opens when no ping arrives within the interval and resolves on the next ping.

Pings and misses become normalized alerts with one dedup key per integration, so they go through the same
ingest path (dedup, timeline, outbox) as every other alert.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from opsknight.engine.ingest import IngestBatch, ingest
from opsknight.engine.normalize import Action, NormalizedAlert
from opsknight.models import Incident, IncidentStatus, Integration, SourceType


def dedup_key(integration: Integration) -> str:
    return f"heartbeat:{integration.id}"


def is_overdue(integration: Integration, now: datetime) -> bool:
    """Pure: has the interval passed since the last ping (or since creation, if it never pinged)?"""
    if not integration.enabled or not integration.heartbeat_interval_seconds:
        return False
    last = integration.last_heartbeat_at or integration.created_at
    return now - last > timedelta(seconds=integration.heartbeat_interval_seconds)


def _recently_raised(db: Session, integration: Integration, now: datetime) -> bool:
    """An open miss incident exists, or one was opened less than an interval ago (then resolved by hand):
    don't open another every sweep."""
    latest = db.exec(select(Incident).where(Incident.service_id == integration.service_id,
                                            Incident.dedup_key == dedup_key(integration))
                     .order_by(Incident.created_at.desc()).limit(1)).first()
    if latest is None:
        return False
    interval = timedelta(seconds=integration.heartbeat_interval_seconds)
    return latest.status != IncidentStatus.RESOLVED or now - latest.created_at < interval


def _alert(integration: Integration, action: Action, summary: str) -> NormalizedAlert:
    return NormalizedAlert(action=action, dedup_key=dedup_key(integration), summary=summary[:1024],
                           severity="critical", source=integration.name[:255] or "heartbeat",
                           details={"interval_seconds": integration.heartbeat_interval_seconds})


def ping_alert(integration: Integration) -> NormalizedAlert:
    """What a ping means: resolve the missed-heartbeat incident if one is open (a no-op otherwise)."""
    return _alert(integration, Action.RESOLVE, f"Heartbeat received: {integration.name}")


def check_overdue(db: Session, now: datetime) -> IngestBatch:
    """Open an incident for every enabled heartbeat integration whose ping is overdue, once per miss."""
    batch = IngestBatch()
    rows = db.exec(select(Integration).where(Integration.source_type == SourceType.HEARTBEAT,
                                             Integration.enabled.is_(True)).with_for_update(skip_locked=True)).all()
    for integration in rows:
        if not is_overdue(integration, now) or _recently_raised(db, integration, now):
            continue
        seconds = integration.heartbeat_interval_seconds
        sub = ingest(db, integration, [_alert(integration, Action.TRIGGER,
                                              f"No heartbeat from {integration.name} for over {seconds}s")],
                     b"{}", now)
        batch.results += sub.results
        batch.outbox_ids += sub.outbox_ids
    return batch
