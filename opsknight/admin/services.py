"""Services: list, read, create, update (settings and maintenance window) and delete, each change audited.

A service's maintenance window is `maintenance_start` (when it began or will begin) to `maintenance_until`;
alerts arriving inside it are recorded and page nobody (`engine.ingest.in_maintenance`). A service is only
deleted when nothing refers to it: open incidents must be resolved first, and resolved incidents keep the
service for their history (the incidents' foreign key is RESTRICT). Its integrations go with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from opsknight import broker
from opsknight.accounts import Principal
from opsknight.admin import Conflict, Invalid, NotFound, audit, authorize, parse
from opsknight.admin.fields import Description, Id, Instant, Name
from opsknight.db import after_commit
from opsknight.engine import clock
from opsknight.engine.ingest import in_maintenance
from opsknight.models import EscalationPolicy, Incident, IncidentStatus, Integration, Service, Team
from opsknight.permissions import Permission

class MaintenanceWindow(BaseModel):
    """Alerts in [start, until) page nobody. Without `start` the window starts now."""

    model_config = ConfigDict(extra="forbid")
    start: Instant | None = None
    until: Instant


class ServiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Description = ""
    team_id: Id | None = None
    escalation_policy_id: Id | None = None
    default_urgency: Literal["high", "low"] = "high"
    urgency_from_severity: bool = True
    maintenance: MaintenanceWindow | None = None


class ServiceUpdate(BaseModel):
    """Only the fields sent change; `null` clears team, policy or the maintenance window."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: Description | None = None
    team_id: Id | None = None
    escalation_policy_id: Id | None = None
    default_urgency: Literal["high", "low"] | None = None
    urgency_from_severity: bool | None = None
    maintenance: MaintenanceWindow | None = None


_NOT_NULLABLE = ("name", "description", "default_urgency", "urgency_from_severity")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def snapshot(service: Service) -> dict[str, Any]:
    """The audited fields of a service."""
    return {"name": service.name, "description": service.description, "team_id": service.team_id,
            "escalation_policy_id": service.escalation_policy_id, "default_urgency": service.default_urgency,
            "urgency_from_severity": service.urgency_from_severity,
            "maintenance_start": service.maintenance_start, "maintenance_until": service.maintenance_until}


def _views(db: Session, services: list[Service]) -> list[dict[str, Any]]:
    """JSON-ready services with their policy, team, open incident and integration counts (one query each)."""
    ids = [s.id for s in services]
    if not ids:
        return []
    open_counts = dict(db.exec(select(Incident.service_id, func.count()).where(
        Incident.service_id.in_(ids), Incident.status != IncidentStatus.RESOLVED).group_by(Incident.service_id)).all())
    integration_counts = dict(db.exec(select(Integration.service_id, func.count()).where(
        Integration.service_id.in_(ids)).group_by(Integration.service_id)).all())
    policy_ids = {s.escalation_policy_id for s in services if s.escalation_policy_id}
    policies = dict(db.exec(select(EscalationPolicy.id, EscalationPolicy.name)
                            .where(EscalationPolicy.id.in_(policy_ids))).all()) if policy_ids else {}
    team_ids = {s.team_id for s in services if s.team_id}
    teams = dict(db.exec(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all()) if team_ids else {}
    now = clock.now()

    def view(s: Service) -> dict[str, Any]:
        window = None
        if s.maintenance_until is not None:
            window = {"start": _iso(s.maintenance_start), "until": _iso(s.maintenance_until),
                      "active": in_maintenance(s, now)}
        return {
            "id": s.id, "name": s.name, "description": s.description,
            "team": {"id": s.team_id, "name": teams.get(s.team_id, "")} if s.team_id else None,
            "escalation_policy": ({"id": s.escalation_policy_id, "name": policies.get(s.escalation_policy_id, "")}
                                  if s.escalation_policy_id else None),
            "default_urgency": s.default_urgency, "urgency_from_severity": s.urgency_from_severity,
            "maintenance": window, "open_incidents": open_counts.get(s.id, 0),
            "integrations": integration_counts.get(s.id, 0),
            "created_at": _iso(s.created_at), "updated_at": _iso(s.updated_at),
        }

    return [view(s) for s in services]


def load(db: Session, service_id: int, *, lock: dict[str, bool] | None = None) -> Service:
    """The service, or NotFound; `lock` holds `with_for_update` arguments to lock its row."""
    query = select(Service).where(Service.id == service_id)
    service = db.exec(query if lock is None else query.with_for_update(**lock)).first()
    if service is None:
        raise NotFound(f"No service {service_id}")
    return service


def list_services(db: Session, actor: Principal | None, *, limit: int = 50,
                  after_id: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Services in id order, `limit` at a time; returns (page, cursor for the next page or None)."""
    authorize(actor, Permission.READ)
    query = select(Service).order_by(Service.id).limit(limit + 1)
    if after_id is not None:
        query = query.where(Service.id > after_id)
    services = list(db.exec(query).all())
    page = services[:limit]
    return _views(db, page), (page[-1].id if len(services) > limit else None)


def get_service(db: Session, actor: Principal | None, service_id: int) -> dict[str, Any]:
    authorize(actor, Permission.READ)
    return _views(db, [load(db, service_id)])[0]


def choices(db: Session, actor: Principal | None) -> dict[str, list[dict[str, Any]]]:
    """The escalation policies and teams a service form offers, by name."""
    authorize(actor, Permission.READ)
    policies = db.exec(select(EscalationPolicy.id, EscalationPolicy.name).order_by(EscalationPolicy.name)).all()
    teams = db.exec(select(Team.id, Team.name).order_by(Team.name)).all()
    return {"policies": [{"id": i, "name": n} for i, n in policies], "teams": [{"id": i, "name": n} for i, n in teams]}


def _check_references(db: Session, values: dict[str, Any]) -> None:
    missing = []
    if values.get("escalation_policy_id") and db.get(EscalationPolicy, values["escalation_policy_id"]) is None:
        missing.append(f"escalation_policy_id: no escalation policy {values['escalation_policy_id']}")
    if values.get("team_id") and db.get(Team, values["team_id"]) is None:
        missing.append(f"team_id: no team {values['team_id']}")
    if missing:
        raise Invalid("; ".join(missing), missing)


def _check_name_free(db: Session, name: str, service_id: int | None = None) -> None:
    query = select(Service.id).where(func.lower(Service.name) == name.lower())
    if service_id is not None:
        query = query.where(Service.id != service_id)
    if db.exec(query).first() is not None:
        raise Conflict(f"A service named {name!r} exists already", ["name: taken"])


def _window(window: MaintenanceWindow | None) -> tuple[datetime | None, datetime | None]:
    """(maintenance_start, maintenance_until) for a window, checked against now."""
    if window is None:
        return None, None
    now = clock.now()
    start = window.start or now
    if window.until <= now:
        raise Invalid("maintenance.until must be in the future", ["maintenance.until: must be in the future"])
    if window.until <= start:
        raise Invalid("maintenance.until must be after the start", ["maintenance.until: must be after the start"])
    return start, window.until


def _flush(db: Session, name: str) -> None:
    try:
        db.flush()
    except IntegrityError:  # a concurrent create took the name between our check and the insert
        raise Conflict(f"A service named {name!r} exists already", ["name: taken"]) from None


def create_service(db: Session, actor: Principal | None, data: dict | ServiceCreate) -> dict[str, Any]:
    body = parse(ServiceCreate, data)
    actor = authorize(actor, Permission.CONFIGURE)
    values = body.model_dump(exclude={"maintenance"})
    _check_references(db, values)
    _check_name_free(db, body.name)
    start, until = _window(body.maintenance)
    service = Service(**values, maintenance_start=start, maintenance_until=until, created_at=clock.now())
    db.add(service)
    _flush(db, body.name)
    audit.record(db, actor, "service.create", "service", service.id, audit.changes_between({}, snapshot(service)))
    return _views(db, [service])[0]


def update_service(db: Session, actor: Principal | None, service_id: int,
                   data: dict | ServiceUpdate) -> dict[str, Any]:
    body = parse(ServiceUpdate, data)
    actor = authorize(actor, Permission.CONFIGURE)
    sent = body.model_fields_set
    nulls = [f"{name}: must not be null" for name in _NOT_NULLABLE if name in sent and getattr(body, name) is None]
    if nulls:
        raise Invalid("; ".join(nulls), nulls)
    # NO KEY UPDATE: serializes concurrent edits without blocking alerts that insert incidents for this service.
    service = load(db, service_id, lock={"key_share": True})
    before = snapshot(service)
    values = {name: getattr(body, name) for name in sent if name != "maintenance"}
    _check_references(db, values)
    if "name" in values:
        _check_name_free(db, values["name"], service.id)
    for name, value in values.items():
        setattr(service, name, value)
    if "maintenance" in sent:
        service.maintenance_start, service.maintenance_until = _window(body.maintenance)
    changes = audit.changes_between(before, snapshot(service))
    if changes:
        service.updated_at = clock.now()
        db.add(service)
        _flush(db, service.name)
        audit.record(db, actor, "service.update", "service", service.id, changes)
        if "maintenance_start" in changes or "maintenance_until" in changes:  # the public status page shows it
            after_commit(db, broker.invalidate_status_page)
    return _views(db, [service])[0]


def delete_service(db: Session, actor: Principal | None, service_id: int) -> None:
    """Delete a service and its integrations; refused (Conflict) while it has incidents."""
    actor = authorize(actor, Permission.CONFIGURE)
    service = load(db, service_id, lock={})  # FOR UPDATE: new incidents for it wait until we are done
    by_status = dict(db.exec(select(Incident.status, func.count()).where(Incident.service_id == service.id)
                             .group_by(Incident.status)).all())
    resolved = by_status.pop(IncidentStatus.RESOLVED, 0)
    if by_status:
        raise Conflict(f"{service.name!r} has {sum(by_status.values())} open incident(s); resolve them before "
                       "deleting it")
    if resolved:
        raise Conflict(f"{service.name!r} keeps the history of {resolved} resolved incident(s) and cannot be "
                       "deleted; disable its integrations instead")
    integration_count = db.exec(select(func.count()).select_from(Integration)
                                .where(Integration.service_id == service.id)).one()
    before = snapshot(service)
    db.delete(service)
    try:
        db.flush()
    except IntegrityError:  # an alert opened an incident after our count
        raise Conflict(f"{service.name!r} just got an incident; resolve it before deleting the service") from None
    audit.record(db, actor, "service.delete", "service", service_id,
                 {**audit.changes_between(before, {}), "integrations_deleted": integration_count})
