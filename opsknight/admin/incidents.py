"""What a responder does to incidents, for the REST API and the pages alike: open one by hand, acknowledge,
resolve (with a note), snooze, escalate now, reassign, add responders, change the urgency, add a note, merge.

Each checks the actor may act on incidents, then runs the engine action in its own transaction
(`engine.actions.perform`: jobs enqueued and live pages told after the commit). Refusals are `AdminError`s:
`NotFound`, `Invalid` for bad input, `Conflict` when the incident's state refuses the action, and `LostRace` when
someone else did it first ("Ann acknowledged this 3 s ago").
"""

from __future__ import annotations

import contextlib
import json
import secrets
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from opsknight import broker
from opsknight.accounts import Principal
from opsknight.admin import Conflict, Invalid, NotFound, authorize, parse
from opsknight.admin.fields import MAX_ID, Id, Input, storable
from opsknight.db import session_scope
from opsknight.engine import actions, clock
from opsknight.engine.ingest import Origin, ingest
from opsknight.engine.normalize import Action
from opsknight.engine.normalize.common import make_alert
from opsknight.engine.reconciler import enqueue_new_outbox
from opsknight.models import Service
from opsknight.permissions import Permission


class LostRace(Conflict):
    """Someone else did it first; nothing changed. The REST API answers it as a success (acting is idempotent)."""

    code = "already_done"


@contextlib.contextmanager
def _refusals():
    """The engine's refusals as the admin layer's: LostRace, NotFound, Conflict."""
    try:
        yield
    except actions.AlreadyDone as exc:
        raise LostRace(str(exc)) from None
    except actions.NotFoundError as exc:
        raise NotFound(str(exc)) from None
    except actions.ActionError as exc:
        raise Conflict(str(exc)) from None


def _checked(actor: Principal | None, incident_id: int) -> Principal:
    actor = authorize(actor, Permission.ACT_ON_INCIDENTS)
    if not 1 <= incident_id <= MAX_ID:  # beyond the id column: no such incident, not a database error
        raise NotFound(f"No incident {incident_id}")
    return actor


def _run(actor: Principal | None, action, incident_id: int, via: str, **kwargs) -> None:
    actor = _checked(actor, incident_id)
    with _refusals():
        actions.perform(action, incident_id, user_id=actor.user_id, via=via, **kwargs)


def acknowledge(actor: Principal | None, incident_id: int, *, via: str) -> None:
    _run(actor, actions.acknowledge, incident_id, via)


class ResolveIn(Input):
    note: Annotated[str, Field(default="", max_length=actions.MAX_NOTE), AfterValidator(storable)] = ""


def resolve(actor: Principal | None, incident_id: int, data: dict | ResolveIn | None = None, *, via: str) -> None:
    body = parse(ResolveIn, data or {})
    _run(actor, actions.resolve, incident_id, via, note=body.note.strip())


class SnoozeIn(Input):
    minutes: int = Field(ge=1, le=7 * 24 * 60)


def snooze(actor: Principal | None, incident_id: int, data: dict | SnoozeIn, *, via: str) -> None:
    body = parse(SnoozeIn, data)
    _run(actor, actions.snooze, incident_id, via, until=clock.now() + timedelta(minutes=body.minutes))


def escalate(actor: Principal | None, incident_id: int, *, via: str) -> None:
    _run(actor, actions.escalate_now, incident_id, via)


class ReassignIn(Input):
    user_id: Id


def reassign(actor: Principal | None, incident_id: int, data: dict | ReassignIn, *, via: str) -> None:
    body = parse(ReassignIn, data)
    _run(actor, actions.reassign, incident_id, via, to_user_id=body.user_id)


class ResponderIn(Input):
    target_type: Literal["user", "schedule", "escalation_policy"]
    target_id: Id


def add_responders(actor: Principal | None, incident_id: int, data: dict | ResponderIn, *, via: str) -> None:
    body = parse(ResponderIn, data)
    _run(actor, actions.add_responders, incident_id, via, target_type=body.target_type, target_id=body.target_id)


class UrgencyIn(Input):
    urgency: Literal["high", "low"]


def change_urgency(actor: Principal | None, incident_id: int, data: dict | UrgencyIn, *, via: str) -> None:
    body = parse(UrgencyIn, data)
    _run(actor, actions.change_urgency, incident_id, via, urgency=body.urgency)


class NoteIn(Input):
    body: Annotated[str, Field(min_length=1, max_length=actions.MAX_NOTE), AfterValidator(storable)]


def add_note(actor: Principal | None, incident_id: int, data: dict | NoteIn, *, via: str) -> dict[str, Any]:
    body = parse(NoteIn, data)
    actor = _checked(actor, incident_id)
    with _refusals(), session_scope() as db:
        note = actions.add_note(db, incident_id, body=body.body, user_id=actor.user_id, via=via, now=clock.now())
        answer = {"id": note.id, "incident_id": note.incident_id, "author_id": note.author_id, "body": note.body,
                  "created_at": note.created_at.isoformat()}
    broker.publish_incidents_changed([incident_id], status_page=False)  # notes are internal
    return answer


class MergeIn(Input):
    into_id: Id


def merge(actor: Principal | None, incident_id: int, data: dict | MergeIn, *, via: str) -> None:
    body = parse(MergeIn, data)
    _run(actor, actions.merge, incident_id, via, into_id=body.into_id)


class OpenIn(Input):
    """An incident opened by hand. It goes through the same ingest as an alert: dedup, durable outbox, paging."""

    model_config = {"extra": "ignore"}  # the REST body has always ignored unknown fields

    service_id: Id
    title: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(storable)]
    severity: Literal["critical", "error", "warning", "info"] = Field(
        default="critical", description="Mapped to urgency like a monitor's alert: critical/error page as high")
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255,
                                  description="Joins the open incident with this key instead of opening another")
    description: Annotated[str, Field(default="", max_length=5000), AfterValidator(storable)] = ""
    details: dict[str, Any] = Field(default_factory=dict)


def open_incident(actor: Principal | None, data: dict | OpenIn, *, via: str) -> int:
    """Open (or, with a known `dedup_key`, join) an incident by hand; returns its id. Durable before it returns."""
    body = parse(OpenIn, data)
    actor = authorize(actor, Permission.ACT_ON_INCIDENTS)
    details = {**body.details, **({"description": body.description} if body.description else {})}
    alert = make_alert(action=Action.TRIGGER, dedup_key=body.dedup_key or f"manual-{secrets.token_hex(8)}",
                       summary=body.title, severity=body.severity, source=f"{actor.name} ({via})", details=details)
    with session_scope() as db:
        service = db.get(Service, body.service_id)
        if service is None:
            raise Invalid(f"No service {body.service_id}", ["service_id"])
        raw = json.dumps(body.model_dump()).encode()
        batch = ingest(db, Origin(service_id=service.id, source_type=via), [alert], raw, clock.now(), service)
    enqueue_new_outbox(batch.outbox_ids, batch.changed_incident_ids, batch.status_page_changed)  # durable already: the reconciler repairs
    return batch.results[0].incident_id
