"""Normalized alerts -> incidents, in one transaction (DESIGN data flow step 2).

For each alert: find the service's open incident with the alert's dedup key (row-locked), then
- trigger: attach the alert to it, or open a new incident (+ its first timeline event and an outbox row for
  the `process_incident` job, unless the service is in maintenance);
- acknowledge / resolve: apply to the open incident; for an unknown key do nothing.

Concurrent duplicates (Alertmanager HA pairs send them by design) are settled by the database: the insert of a
second open incident with the same key violates `uq_incidents_open_dedup`, its savepoint rolls back, and the
alert attaches to the incident that won. The caller commits; only then may it answer 2xx and enqueue jobs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from opsknight.engine.normalize import Action, NormalizedAlert, severity_to_urgency
from opsknight.engine.numbers import next_incident_number
from opsknight.models import (
    Alert, Incident, IncidentStatus, Integration, OutboxJob, Service, TimelineEvent, TimelineKind, Urgency,
)

RAW_CAP_BYTES = 16 * 1024  # raw payload kept per alert; larger bodies keep their head only
PROCESS_INCIDENT = "process_incident"


@dataclass
class IngestResult:
    """What one alert did. `outcome`: created | attached | acknowledged | resolved | ignored."""

    action: str
    dedup_key: str
    outcome: str
    incident_id: int | None = None
    incident_number: int | None = None


@dataclass
class IngestBatch:
    results: list[IngestResult] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)  # enqueue these after commit

    @property
    def changed_incident_ids(self) -> list[int]:
        return sorted({r.incident_id for r in self.results if r.incident_id and r.outcome != "ignored"})


def capped_raw(raw_body: bytes) -> Any:
    """The raw payload to keep beside an alert: the parsed JSON when small, else a marked head."""
    if len(raw_body) <= RAW_CAP_BYTES:
        try:
            return json.loads(raw_body)
        except ValueError:
            pass
    return {"_truncated": True, "size": len(raw_body),
            "head": raw_body[:4096].decode("utf-8", errors="replace")}


def in_maintenance(service: Service, now: datetime) -> bool:
    if service.maintenance_until is None or service.maintenance_until <= now:
        return False
    return service.maintenance_start is None or service.maintenance_start <= now


def _urgency(service: Service, alert: NormalizedAlert) -> str:
    if service.urgency_from_severity:
        return str(severity_to_urgency(alert.severity))
    return service.default_urgency or Urgency.HIGH


def _open_incident(db: Session, service_id: int, dedup_key: str) -> Incident | None:
    return db.exec(
        select(Incident)
        .where(Incident.service_id == service_id, Incident.dedup_key == dedup_key,
               Incident.status != IncidentStatus.RESOLVED)
        .with_for_update()
    ).first()


def _timeline(db: Session, incident: Incident, kind: str, now: datetime, source: str, message: str,
              data: dict | None = None) -> None:
    db.add(TimelineEvent(incident_id=incident.id, kind=kind, at=now, source=source, message=message[:2000],
                         data=data))


def _alert_row(db: Session, incident: Incident, integration: Integration, alert: NormalizedAlert, raw: Any,
               now: datetime) -> Alert:
    row = Alert(incident_id=incident.id, integration_id=integration.id, source=integration.source_type,
                action=str(alert.action), dedup_key=alert.dedup_key, summary=alert.summary[:1024],
                severity=alert.severity, payload=alert.to_dict(), raw=raw, received_at=now)
    db.add(row)
    db.flush()  # the timeline event names the alert (its raw payload) by id
    return row


def _create(db: Session, service: Service, integration: Integration, alert: NormalizedAlert, raw: Any,
            now: datetime, batch: IngestBatch) -> Incident | None:
    """Open a new incident; None when a concurrent ingest opened one with this key first."""
    try:
        with db.begin_nested():
            incident = Incident(number=next_incident_number(db), title=alert.summary[:1024],
                                status=IncidentStatus.TRIGGERED, urgency=_urgency(service, alert),
                                dedup_key=alert.dedup_key, service_id=service.id, alert_count=1, created_at=now,
                                updated_at=now, last_alert_at=now)
            db.add(incident)
            db.flush()
    except IntegrityError:
        return None
    row = _alert_row(db, incident, integration, alert, raw, now)
    source = integration.source_type
    _timeline(db, incident, TimelineKind.TRIGGERED, now, source, f"Triggered by {source}: {alert.summary}",
              {"severity": alert.severity, "integration_id": integration.id, "alert_id": row.id})
    if in_maintenance(service, now):
        _timeline(db, incident, TimelineKind.MAINTENANCE, now, source,
                  "Service is in maintenance: the alert is recorded and nobody is paged")
    else:
        outbox = OutboxJob(kind=PROCESS_INCIDENT, incident_id=incident.id, payload={"incident_id": incident.id},
                           created_at=now, available_at=now)
        db.add(outbox)
        db.flush()
        batch.outbox_ids.append(outbox.id)
    return incident


def _apply(db: Session, incident: Incident, integration: Integration, alert: NormalizedAlert, raw: Any,
           now: datetime) -> str:
    """Apply an alert to an open (row-locked) incident; returns the outcome."""
    source = integration.source_type
    row = _alert_row(db, incident, integration, alert, raw, now)
    ref = {"alert_id": row.id, "integration_id": integration.id}
    incident.alert_count += 1
    incident.last_alert_at = incident.updated_at = now
    outcome = "attached"
    if alert.action == Action.TRIGGER:
        _timeline(db, incident, TimelineKind.ALERT, now, source, f"Alert from {source}: {alert.summary}",
                  {"severity": alert.severity, **ref})
    elif alert.action == Action.ACKNOWLEDGE and incident.status == IncidentStatus.TRIGGERED:
        incident.status = IncidentStatus.ACKNOWLEDGED
        incident.acknowledged_at, incident.acknowledged_via = now, source
        incident.next_escalation_at = None
        _timeline(db, incident, TimelineKind.ACKNOWLEDGED, now, source, f"Acknowledged by {source}", ref)
        outcome = "acknowledged"
    elif alert.action == Action.RESOLVE:
        incident.status = IncidentStatus.RESOLVED
        incident.resolved_at, incident.resolved_by_source = now, source
        incident.next_escalation_at = None
        _timeline(db, incident, TimelineKind.RESOLVED, now, source, f"Resolved by {source}: {alert.summary}", ref)
        outcome = "resolved"
    else:  # acknowledge of an already acknowledged incident
        _timeline(db, incident, TimelineKind.ALERT, now, source, f"Acknowledge from {source} (already acknowledged)", ref)
    db.add(incident)
    return outcome


def ingest(db: Session, integration: Integration, alerts: list[NormalizedAlert], raw_body: bytes,
           now: datetime) -> IngestBatch:
    """Apply `alerts` from `integration` inside the caller's transaction. The caller commits."""
    service = db.get(Service, integration.service_id)
    raw = capped_raw(raw_body)
    batch = IngestBatch()
    for alert in alerts:
        result = IngestResult(action=str(alert.action), dedup_key=alert.dedup_key, outcome="ignored")
        incident = _open_incident(db, service.id, alert.dedup_key)
        if incident is None and alert.action == Action.TRIGGER:
            incident = _create(db, service, integration, alert, raw, now, batch)
            if incident is not None:
                result.outcome = "created"
            else:  # lost the race: the winner's incident is committed now
                incident = _open_incident(db, service.id, alert.dedup_key)
        if incident is not None and result.outcome != "created":
            result.outcome = _apply(db, incident, integration, alert, raw, now)
        if incident is not None:
            result.incident_id, result.incident_number = incident.id, incident.number
        batch.results.append(result)
    return batch
