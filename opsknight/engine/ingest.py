"""Normalized alerts -> incidents, in one transaction (DESIGN data flow step 2).

For each alert, in order: find the service's open incident with the alert's dedup key (row-locked), then
- trigger: attach the alert to it, or open a new incident (+ its first timeline event and an outbox row for
  the `process_incident` job, unless the service is in maintenance);
- acknowledge / resolve: apply to the open incident; for an unknown key do nothing.

A batch (Alertmanager groups, generic arrays) costs a handful of statements however many alerts it holds: one
query for the open incidents of all its keys, one batched insert per table. Concurrent duplicates
(Alertmanager HA pairs send them by design) are settled by the database: inserting a second open incident
with the same key violates `uq_incidents_open_dedup`, and the batch is applied again against the incidents that
won — inside a savepoint (`isolated=True`, for callers whose transaction holds other work), or by the caller
rerunning its whole transaction on `IntegrityError` (`isolated=False`: the webhook path, whose transaction holds
nothing else; it saves the SAVEPOINT and RELEASE round trips on every request). The caller commits; only then
may it answer 2xx and enqueue jobs.

This is the webhook hot path, so it speaks SQLAlchemy Core on the session's connection (same transaction):
rows are plain attribute bags, changes to open incidents are written back with one UPDATE per batch. The ORM
costs several times more Python per statement, and Python, not PostgreSQL, is what limits ingest here.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from opsknight.engine.normalize import Action, NormalizedAlert, severity_to_urgency
from opsknight.engine.normalize.common import storable_json
from opsknight.engine.numbers import next_incident_numbers
from opsknight.models import (
    Alert, Incident, IncidentStatus, Integration, OutboxJob, Service, TimelineEvent, TimelineKind, Urgency,
)

OPEN_INCIDENT = literal_column("incidents.status") != literal_column("'resolved'")
INCIDENTS, SERVICES = Incident.__table__, Service.__table__
# What `_apply` may change on an open incident: written back in one UPDATE per batch.
MUTABLE = ("status", "alert_count", "updated_at", "last_alert_at", "acknowledged_at", "acknowledged_via",
           "resolved_at", "resolved_by_source", "next_escalation_at", "snoozed_until")
LOADED = ("id", "number", "dedup_key", "escalation_policy_snapshot", *MUTABLE)
# What ingest reads of a service (see `service_for_ingest`).
SERVICE_FIELDS = ("id", "default_urgency", "urgency_from_severity", "maintenance_start", "maintenance_until",
                  "escalation_policy_id")
ALERTS, TIMELINE, OUTBOX = Alert.__table__, TimelineEvent.__table__, OutboxJob.__table__

# The statements, built once: building a statement costs more Python than executing a cached one.
SELECT_SERVICE = select(*[SERVICES.c[k] for k in SERVICE_FIELDS]).where(SERVICES.c.id == bindparam("service_id"))
SELECT_OPEN = (
    select(*[INCIDENTS.c[k] for k in LOADED])
    # The predicate is a literal, not a bind parameter, so PostgreSQL can match it to the partial unique index
    # uq_incidents_open_dedup even in the generic plan of a prepared statement (psycopg prepares repeated
    # queries); with a parameter it scans every incident ever stored.
    .where(INCIDENTS.c.service_id == bindparam("service_id"),
           INCIDENTS.c.dedup_key.in_(bindparam("keys", expanding=True)), OPEN_INCIDENT)
    .order_by(INCIDENTS.c.id)
    .with_for_update())
# Alerts for the key of an incident that was merged into another one go to that one while it is open: a monitor
# keeps sending its key (Alertmanager repeats, then resolves), and a merge must not be undone by the next repeat.
_SOURCE, _TARGET = INCIDENTS.alias("merged_source"), INCIDENTS.alias("merge_target")
SELECT_MERGED = (
    select(_SOURCE.c.dedup_key.label("alias_key"), *[_TARGET.c[k] for k in LOADED])
    .join(_TARGET, _TARGET.c.id == _SOURCE.c.merged_into_id)
    # Literal predicates, as above: they match the partial index ix_incidents_merged_dedup.
    .where(_SOURCE.c.service_id == bindparam("service_id"), _SOURCE.c.dedup_key.in_(bindparam("keys", expanding=True)),
           literal_column("merged_source.merged_into_id").isnot(None),
           literal_column("merge_target.status") != literal_column("'resolved'"))
    .order_by(_SOURCE.c.id.desc())
    .with_for_update(of=_TARGET))
UPDATE_KNOWN = (update(INCIDENTS).where(INCIDENTS.c.id == bindparam("key_id"))
                .values({k: bindparam(f"new_{k}") for k in MUTABLE}))
INSERT_INCIDENTS = insert(INCIDENTS).returning(INCIDENTS.c.id, INCIDENTS.c.number, sort_by_parameter_order=True)
# PostgreSQL numbers new incidents from a sequence inside the INSERT itself (one statement less per batch).
INSERT_NUMBERED_INCIDENTS = (insert(INCIDENTS).values(number=func.nextval("incident_number_seq"))
                             .returning(INCIDENTS.c.id, INCIDENTS.c.number, sort_by_parameter_order=True))
INSERT_ALERTS = insert(ALERTS).returning(ALERTS.c.id, sort_by_parameter_order=True)
INSERT_TIMELINE = insert(TIMELINE)
INSERT_OUTBOX = insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True)
RAW_CAP_BYTES = 16 * 1024  # raw payload kept per request; larger bodies keep their head only
PROCESS_INCIDENT = "process_incident"


@dataclass(frozen=True)
class Origin:
    """Where alerts come from when no integration sent them (an incident someone opened by hand). Ingest reads
    only these three attributes, which an `Integration` has too."""

    service_id: int
    source_type: str
    id: int | None = None


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

    @property
    def status_page_changed(self) -> bool:
        """Whether the public status page can show the change: one more alert on an open incident it cannot."""
        return any(r.outcome not in ("attached", "ignored") for r in self.results)


def capped_raw(raw_body: bytes) -> Any:
    """The raw payload to keep beside an alert: the parsed JSON when small, else a marked head. Either way
    cleaned of what jsonb cannot store (NUL, lone surrogates, NaN), so no sender's bytes can fail the write."""
    if len(raw_body) <= RAW_CAP_BYTES:
        try:
            return storable_json(json.loads(raw_body))
        except (ValueError, RecursionError):
            pass
    return {"_truncated": True, "size": len(raw_body),
            "head": storable_json(raw_body[:4096].decode("utf-8", errors="replace"))}


def in_maintenance(service: Service, now: datetime) -> bool:
    if service.maintenance_until is None or service.maintenance_until <= now:
        return False
    return service.maintenance_start is None or service.maintenance_start <= now


def _urgency(service: Service, alert: NormalizedAlert) -> str:
    if service.urgency_from_severity:
        return str(severity_to_urgency(alert.severity))
    return service.default_urgency or Urgency.HIGH


def service_for_ingest(db: Session, service_id: int) -> SimpleNamespace:
    return SimpleNamespace(**db.connection().execute(SELECT_SERVICE, {"service_id": service_id}).one()._mapping)


def open_incidents(db: Session, service_id: int, dedup_keys: list[str]) -> dict[str, SimpleNamespace]:
    """The service's open incidents for these keys, row-locked, by key (marked `known`). A key with no open
    incident of its own, whose last incident was merged into one that is still open, maps to that one."""
    conn = db.connection()
    rows = conn.execute(SELECT_OPEN, {"service_id": service_id, "keys": dedup_keys}).all()
    known = {row.dedup_key: SimpleNamespace(**row._mapping, known=True) for row in rows}
    missing = [key for key in dedup_keys if key not in known]
    if missing:
        by_id = {incident.id: incident for incident in known.values()}
        for row in conn.execute(SELECT_MERGED, {"service_id": service_id, "keys": missing}).all():
            fields = {k: v for k, v in row._mapping.items() if k != "alias_key"}
            target = by_id.setdefault(row.id, SimpleNamespace(**fields, known=True))  # one object per incident
            known.setdefault(row.alias_key, target)
    return known


def _update_known(db: Session, applied: list) -> None:
    """Write back what the batch changed on incidents that were already open."""
    touched = {incident.id: incident for incident, *_ in applied if getattr(incident, "known", False)}
    if touched:
        db.connection().execute(UPDATE_KNOWN, [{"key_id": i.id, **{f"new_{k}": getattr(i, k) for k in MUTABLE}}
                                               for i in touched.values()])


def _new_record(service: Service, alert: NormalizedAlert, now: datetime) -> SimpleNamespace:
    """An incident this batch opens, as plain attributes (inserted in one statement once the batch is planned)."""
    return SimpleNamespace(id=None, number=None, title=alert.summary[:1024], status=IncidentStatus.TRIGGERED,
                           urgency=_urgency(service, alert), dedup_key=alert.dedup_key, service_id=service.id,
                           alert_count=0, created_at=now, updated_at=now, last_alert_at=now, acknowledged_at=None,
                           acknowledged_via=None, resolved_at=None, resolved_by_source=None,
                           next_escalation_at=None, snoozed_until=None)


def _insert_new(db: Session, created: dict[str, SimpleNamespace]) -> None:
    """Insert the planned new incidents in one statement. Raises IntegrityError when a concurrent ingest opened
    one of them first."""
    if not created:
        return
    # Key order, so two batches racing on the same keys wait for each other instead of deadlocking.
    records = [created[key] for key in sorted(created)]
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        statement, rows = INSERT_NUMBERED_INCIDENTS, [
            {k: v for k, v in vars(r).items() if k not in ("id", "number")} for r in records]
    else:  # SQLite: max + 1 is safe, it lets one writer in at a time
        for record, number in zip(records, next_incident_numbers(db, len(records))):
            record.number = number
        statement, rows = INSERT_INCIDENTS, [{k: v for k, v in vars(r).items() if k != "id"} for r in records]
    for record, (incident_id, number) in zip(records, conn.execute(statement, rows).all()):
        record.id, record.number = incident_id, number


def _apply(incident: SimpleNamespace, alert: NormalizedAlert, source: str, is_new: bool,
           now: datetime) -> tuple[str, str, str]:
    """Apply one alert to an incident in memory. Returns (outcome, timeline kind, timeline message)."""
    incident.alert_count += 1
    incident.last_alert_at = incident.updated_at = now
    if is_new:
        return "created", TimelineKind.TRIGGERED, f"Triggered by {source}: {alert.summary}"
    if alert.action == Action.TRIGGER:
        return "attached", TimelineKind.ALERT, f"Alert from {source}: {alert.summary}"
    if alert.dedup_key != incident.dedup_key:  # for an incident merged into this one: it holds other alerts too
        return "attached", TimelineKind.ALERT, (f"{alert.action.capitalize()} from {source} for {alert.dedup_key!r}, "
                                                f"merged into this incident (which stays as it is): {alert.summary}")
    if alert.action == Action.ACKNOWLEDGE and incident.status == IncidentStatus.TRIGGERED:
        incident.status = IncidentStatus.ACKNOWLEDGED
        incident.acknowledged_at, incident.acknowledged_via = now, source
        incident.next_escalation_at = None
        return "acknowledged", TimelineKind.ACKNOWLEDGED, f"Acknowledged by {source}"
    if alert.action == Action.RESOLVE:
        incident.status = IncidentStatus.RESOLVED
        incident.resolved_at, incident.resolved_by_source = now, source
        incident.next_escalation_at = incident.snoozed_until = None
        return "resolved", TimelineKind.RESOLVED, f"Resolved by {source}: {alert.summary}"
    return "attached", TimelineKind.ALERT, f"Acknowledge from {source} (already acknowledged)"


def _split_point(alerts: list[NormalizedAlert]) -> int | None:
    """Index of the first trigger for a key resolved earlier in the same batch: it must open a new incident,
    so the batch is applied in two parts."""
    resolved: set[str] = set()
    for index, alert in enumerate(alerts):
        if alert.action == Action.TRIGGER and alert.dedup_key in resolved:
            return index
        if alert.action == Action.RESOLVE:
            resolved.add(alert.dedup_key)
    return None


Bodies = list[tuple[int, bytes]]  # (how many of the alerts came in it, raw body) per request, in order


def ingest(db: Session, integration: Integration | Origin, alerts: list[NormalizedAlert], raw_body: bytes | Bodies,
           now: datetime, service: Any = None, *, isolated: bool = True) -> IngestBatch:
    """Apply `alerts` from `integration` (or an `Origin`) inside the caller's transaction. The caller commits.
    `raw_body`: the request's body, or `Bodies` when the alerts of several requests are applied together (each
    request's body is kept on its own first alert). `service`: the integration's service as `service_for_ingest`
    reads it, when the caller has it already. `isolated=False`: a lost dedup race raises IntegrityError with the
    transaction aborted; the caller must roll back and run the whole transaction again (see the module's
    docstring)."""
    service = service or service_for_ingest(db, integration.service_id)
    bodies = [(len(alerts), raw_body)] if isinstance(raw_body, bytes) else raw_body
    split = _split_point(alerts)
    if split:
        head, tail = _split_bodies(bodies, split)
        first = ingest(db, integration, alerts[:split], head, now, service, isolated=isolated)
        rest = ingest(db, integration, alerts[split:], tail, now, service, isolated=isolated)
        return IngestBatch(first.results + rest.results, first.outbox_ids + rest.outbox_ids)

    source = integration.source_type
    keys = list(dict.fromkeys(a.dedup_key for a in alerts))
    for _attempt in range(5):
        try:
            # Plan and insert inside one savepoint: a lost race rolls back the new incidents *and* the changes
            # the plan made to open ones, so the batch is applied exactly once against the winner's rows.
            with db.begin_nested() if isolated else contextlib.nullcontext():
                known = open_incidents(db, service.id, keys) if keys else {}
                batch, applied, created = _plan(service, source, alerts, known, now)
                _insert_new(db, created)
                _update_known(db, applied)
            break
        except IntegrityError:
            if not isolated:
                raise  # the caller reruns its transaction
            # the plan lives in fresh attribute bags: nothing to undo but the savepoint
    else:  # five lost races in a row: let the caller answer 503 and the sender retry
        raise IntegrityError("ingest", {}, Exception("dedup race not settled"))
    for result in batch.results:
        if result.dedup_key in created and result.outcome != "ignored":
            record = created[result.dedup_key]
            result.incident_id, result.incident_number = record.id, record.number

    # A request's raw body is kept once, on its first stored alert; its other alerts (and their timeline events)
    # point there.
    request_of = [request for request, (count, _) in enumerate(bodies) for _ in range(count)]
    first_stored: dict[int, int] = {}  # request -> index in `applied` of its first alert
    rows = []
    for index, (incident, alert, _, _, position) in enumerate(applied):
        request = request_of[position]
        keeps_raw = first_stored.setdefault(request, index) == index
        rows.append({"incident_id": incident.id, "integration_id": integration.id, "source": source,
                     "action": str(alert.action), "dedup_key": alert.dedup_key, "summary": alert.summary[:1024],
                     "severity": alert.severity, "payload": alert.to_dict(),
                     "raw": capped_raw(bodies[request][1]) if keeps_raw else None, "received_at": now})
    conn = db.connection()
    alert_ids = conn.execute(INSERT_ALERTS, rows).scalars().all() if rows else []

    timeline, outbox, to_process = [], [], set()
    maintenance = in_maintenance(service, now)
    for (incident, alert, kind, message, position), alert_id in zip(applied, alert_ids):
        raw_alert_id = alert_ids[first_stored[request_of[position]]]
        data = {"alert_id": alert_id, "raw_alert_id": raw_alert_id, "integration_id": integration.id}
        if kind == TimelineKind.TRIGGERED:
            data["severity"] = alert.severity
        timeline.append(_event(incident.id, kind, now, source, message, data))
        if kind == TimelineKind.TRIGGERED and maintenance:
            timeline.append(_event(incident.id, TimelineKind.MAINTENANCE, now, source,
                                   "Service is in maintenance: the alert is recorded and nobody is paged", None))
        elif not maintenance and (kind == TimelineKind.TRIGGERED or _never_paged(incident, alert, service)):
            to_process.add(incident.id)
    outbox = [{"kind": PROCESS_INCIDENT, "incident_id": incident_id, "payload": {"incident_id": incident_id},
               "created_at": now, "available_at": now, "attempts": 0} for incident_id in sorted(to_process)]
    if timeline:
        conn.execute(INSERT_TIMELINE, timeline)
    if outbox:
        batch.outbox_ids = list(conn.execute(INSERT_OUTBOX, outbox).scalars().all())
    return batch


def _split_bodies(bodies: Bodies, split: int) -> tuple[Bodies, Bodies]:
    """`bodies` for the alerts before `split` and for those from it on (a request may fall on both sides)."""
    head, tail, seen = [], [], 0
    for count, body in bodies:
        before = max(0, min(count, split - seen))
        if before:
            head.append((before, body))
        if count - before:
            tail.append((count - before, body))
        seen += count
    return head, tail


def _never_paged(incident, alert: NormalizedAlert, service: Service) -> bool:
    """A trigger for an open incident that was never processed for paging — opened during maintenance, or
    before its service had a policy: it still needs someone woken up, so it gets processed now."""
    return (getattr(incident, "known", False) and alert.action == Action.TRIGGER
            and incident.status == IncidentStatus.TRIGGERED and not incident.escalation_policy_snapshot
            and service.escalation_policy_id is not None)


def _event(incident_id: int, kind: str, now: datetime, source: str, message: str, data: dict | None) -> dict:
    return {"incident_id": incident_id, "kind": kind, "at": now, "source": source, "message": message[:2000],
            "data": data, "actor_user_id": None}


def _plan(service, source: str, alerts: list[NormalizedAlert], known: dict[str, SimpleNamespace],
          now: datetime) -> tuple[IngestBatch, list, dict[str, SimpleNamespace]]:
    """Apply the alerts in memory: to the locked open incidents (written back by `_update_known`) or to new
    ones."""
    batch, applied, created = IngestBatch(), [], {}
    for position, alert in enumerate(alerts):
        incident = known.get(alert.dedup_key) or created.get(alert.dedup_key)
        if incident is None and alert.action == Action.TRIGGER:
            incident = created[alert.dedup_key] = _new_record(service, alert, now)
        if incident is None or incident.status == IncidentStatus.RESOLVED:
            # acknowledge/resolve for an unknown key, or for one resolved earlier in this batch: a no-op
            batch.results.append(IngestResult(str(alert.action), alert.dedup_key, "ignored"))
            continue
        is_new = alert.dedup_key in created and incident.alert_count == 0
        outcome, kind, message = _apply(incident, alert, source, is_new, now)
        applied.append((incident, alert, kind, message, position))
        batch.results.append(IngestResult(str(alert.action), alert.dedup_key, outcome, incident.id, incident.number))
    return batch, applied, created
