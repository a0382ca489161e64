"""The status page's writes: components (admins) and public updates on incidents (responders).

A component has a name, a description, a position (ascending on the page), the services whose incidents it
reflects, and an optional manual status that beats the derived one until cleared (the rules are in
``engine.status_page``). A public update says where the public incident stands (investigating, identified,
monitoring, resolved) in words meant for customers; it is separate from internal notes and never changes the
incident itself (a "resolved" update does not resolve it). The first update may give the incident a public
title; without one the page names it after the affected components, never by its internal title.

Every change invalidates the status page's cache once its transaction commits; component changes are audited,
public updates go on the incident's timeline.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, select

from opsknight import broker
from opsknight.accounts import Principal
from opsknight.admin import Conflict, Invalid, NotFound, audit, authorize, parse
from opsknight.admin.fields import MAX_ID, Description, Id, Input, Name, storable
from opsknight.db import after_commit
from opsknight.engine import clock, dispatch
from opsknight.engine import status_page as status_rules
from opsknight.engine.status_page import Span
from opsknight.engine.status_snapshot import iso, maintained
from opsknight.models import (
    ComponentStatus,
    Incident,
    IncidentStatus,
    PublicStatus,
    Service,
    StatusPageComponent,
    StatusPageComponentService,
    StatusUpdate,
    TimelineKind,
    User,
)
from opsknight.permissions import Permission

MAX_COMPONENTS = 200
MAX_UPDATE = 5000
ManualStatus = Literal["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"]
ServiceIds = Annotated[list[Id], Field(max_length=100)]
Position = Annotated[int, Field(ge=0, le=10_000)]
PublicTitle = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(storable)]

assert set(ManualStatus.__args__) == {s.value for s in ComponentStatus}  # one list of states, two spellings


class ComponentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Description = ""
    position: Position = 0
    service_ids: ServiceIds = []
    manual_status: ManualStatus | None = None


class ComponentUpdate(BaseModel):
    """Only the fields sent change; `manual_status: null` goes back to the derived state."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: Description | None = None
    position: Position | None = None
    service_ids: ServiceIds | None = None
    manual_status: ManualStatus | None = None


class StatusUpdateIn(Input):
    status: Literal["investigating", "identified", "monitoring", "resolved"]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_UPDATE),
                    AfterValidator(storable)]
    public_title: PublicTitle | None = None


def _links(db: Session, component_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in component_ids}
    if component_ids:
        rows = db.exec(select(StatusPageComponentService)
                       .where(col(StatusPageComponentService.component_id).in_(component_ids))).all()
        for link in rows:
            out[link.component_id].append(link.service_id)
    return {k: sorted(v) for k, v in out.items()}


def _component_json(row: StatusPageComponent, service_ids: list[int]) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "position": row.position,
            "service_ids": service_ids, "manual_status": row.manual_status, "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at)}


def _row(db: Session, component_id: int) -> StatusPageComponent:
    row = db.get(StatusPageComponent, component_id) if 1 <= component_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"No status page component {component_id}")
    return row


def _check_services(db: Session, service_ids: list[int]) -> list[int]:
    wanted = sorted(set(service_ids))
    found = set(db.exec(select(Service.id).where(col(Service.id).in_(wanted))).all()) if wanted else set()
    missing = [i for i in wanted if i not in found]
    if missing:
        raise Invalid(f"service_ids: no service {', '.join(map(str, missing))}", ["service_ids"])
    return wanted


def _set_links(db: Session, component_id: int, service_ids: list[int]) -> None:
    db.exec(delete(StatusPageComponentService).where(col(StatusPageComponentService.component_id) == component_id))
    for service_id in service_ids:
        db.add(StatusPageComponentService(component_id=component_id, service_id=service_id))


def _flush_unique(db: Session, name: str) -> None:
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise Conflict(f"A component named {name!r} exists already", ["name"]) from None


def list_components(db: Session, actor: Principal | None) -> list[dict[str, Any]]:
    """Components in page order, each with the state the page shows now (`status`)."""
    authorize(actor, Permission.READ)
    rows = db.exec(select(StatusPageComponent).order_by(StatusPageComponent.position, StatusPageComponent.id)
                   .limit(MAX_COMPONENTS)).all()
    links = _links(db, [r.id for r in rows])
    service_ids = sorted({s for ids in links.values() for s in ids})
    now = clock.now()
    open_spans = [Span(service_id, urgency, now, None) for service_id, urgency in db.exec(
        select(Incident.service_id, Incident.urgency).distinct()
        .where(col(Incident.service_id).in_(service_ids), Incident.status != IncidentStatus.RESOLVED)
    ).all()] if service_ids else []
    maintenance = maintained(db, service_ids, now)
    return [{**_component_json(r, links[r.id]),
             "status": status_rules.component_status(r.manual_status, links[r.id], open_spans, maintenance)}
            for r in rows]


def create_component(db: Session, actor: Principal | None, data: dict | ComponentIn) -> dict[str, Any]:
    body = parse(ComponentIn, data)
    actor = authorize(actor, Permission.CONFIGURE)
    if db.exec(select(func.count()).select_from(StatusPageComponent)).one() >= MAX_COMPONENTS:
        raise Conflict(f"A status page holds at most {MAX_COMPONENTS} components")
    service_ids = _check_services(db, body.service_ids)
    row = StatusPageComponent(name=body.name, description=body.description, position=body.position,
                              manual_status=body.manual_status, created_at=clock.now())
    db.add(row)
    _flush_unique(db, body.name)
    _set_links(db, row.id, service_ids)
    db.flush()
    result = _component_json(row, service_ids)
    audit.record(db, actor, "status_component.create", "status_component", row.id,
                 audit.changes_between({}, {k: v for k, v in result.items() if k not in ("id", "created_at")}))
    after_commit(db, broker.invalidate_status_page)
    return result


def update_component(db: Session, actor: Principal | None, component_id: int,
                     data: dict | ComponentUpdate) -> dict[str, Any]:
    body = parse(ComponentUpdate, data)
    actor = authorize(actor, Permission.CONFIGURE)
    row = _row(db, component_id)
    before = _component_json(row, _links(db, [row.id])[row.id])
    sent = body.model_fields_set
    for field in ("name", "description", "position"):
        if field in sent and getattr(body, field) is None:
            raise Invalid(f"{field}: may not be null", [field])
        if field in sent:
            setattr(row, field, getattr(body, field))
    if "manual_status" in sent:
        row.manual_status = body.manual_status
    service_ids = before["service_ids"]
    if "service_ids" in sent:
        if body.service_ids is None:
            raise Invalid("service_ids: may not be null (send [] for none)", ["service_ids"])
        service_ids = _check_services(db, body.service_ids)
        _set_links(db, row.id, service_ids)
    row.updated_at = clock.now()
    db.add(row)
    _flush_unique(db, row.name)
    after = _component_json(row, service_ids)
    audit.record(db, actor, "status_component.update", "status_component", row.id,
                 audit.changes_between({k: v for k, v in before.items() if k != "updated_at"},
                                       {k: v for k, v in after.items() if k != "updated_at"}))
    after_commit(db, broker.invalidate_status_page)
    return after


def delete_component(db: Session, actor: Principal | None, component_id: int) -> None:
    actor = authorize(actor, Permission.CONFIGURE)
    row = _row(db, component_id)
    before = _component_json(row, _links(db, [row.id])[row.id])
    db.delete(row)
    audit.record(db, actor, "status_component.delete", "status_component", component_id,
                 audit.changes_between({k: v for k, v in before.items() if k != "id"}, {}))
    after_commit(db, broker.invalidate_status_page)


def _update_json(row: StatusUpdate, authors: dict[int, str]) -> dict[str, Any]:
    return {"id": row.id, "incident_id": row.incident_id, "status": row.status, "body": row.body,
            "author_id": row.author_id, "author_name": authors.get(row.author_id), "created_at": iso(row.created_at)}


def _incident(db: Session, incident_id: int) -> Incident:
    incident = db.get(Incident, incident_id) if 1 <= incident_id <= MAX_ID else None
    if incident is None:
        raise NotFound(f"No incident {incident_id}")
    return incident


def list_status_updates(db: Session, actor: Principal | None, incident_id: int) -> dict[str, Any]:
    """An incident's public title and updates, oldest first, and whether the status page shows it (its service is
    linked to a component)."""
    authorize(actor, Permission.READ)
    incident = _incident(db, incident_id)
    rows = db.exec(select(StatusUpdate).where(StatusUpdate.incident_id == incident_id)
                   .order_by(StatusUpdate.created_at, StatusUpdate.id).limit(500)).all()
    ids = {r.author_id for r in rows if r.author_id}
    authors = dict(db.exec(select(User.id, User.name).where(col(User.id).in_(ids))).all()) if ids else {}
    linked = db.exec(select(StatusPageComponentService.component_id)
                     .where(StatusPageComponentService.service_id == incident.service_id).limit(1)).first()
    return {"public_title": incident.public_title, "on_status_page": linked is not None,
            "updates": [_update_json(r, authors) for r in rows]}


def post_status_update(db: Session, actor: Principal | None, incident_id: int,
                       data: dict | StatusUpdateIn) -> dict[str, Any]:
    body = parse(StatusUpdateIn, data)
    actor = authorize(actor, Permission.ACT_ON_INCIDENTS)
    incident = _incident(db, incident_id)
    now = clock.now()
    if body.public_title:
        incident.public_title = body.public_title
        db.add(incident)
    row = StatusUpdate(incident_id=incident.id, status=PublicStatus(body.status), body=body.body,
                       author_id=actor.user_id, created_at=now)
    db.add(row)
    author = db.get(User, actor.user_id).name if actor.user_id else None
    dispatch.timeline(db, incident.id, TimelineKind.STATUS_UPDATE, now,
                     f"Public update ({body.status}) by {author or 'an API key'}: {body.body[:500]}",
                     {"status_update": True}, actor_user_id=actor.user_id, source="status_page")
    db.flush()
    after_commit(db, lambda: broker.publish_incidents_changed([incident.id]))  # the page, and the incident page
    return _update_json(row, {actor.user_id: author} if actor.user_id else {})

