"""Escalation policies: ordered steps, each paging users, schedules or teams, then the next step after a delay.

How the engine reads a policy (``engine.process.policy_snapshot``/``engine.escalation``), and so what is stored:

* Steps are stored at positions 0..n-1 with no gaps; the engine pages them in position order, and an incident's
  ``escalation_step`` is an index into the copy of the steps frozen onto it when paging started. Saving rewrites
  every step of the policy in one transaction, under a lock on the policy row that the engine's snapshot read
  shares, so an incident starting at that moment sees the old policy or the new one, never a mix.
* ``delay_minutes`` of a step is how long its targets have to acknowledge before the next step is paged (after
  the last step: before the policy starts over, ``repeat_count`` more times). 0 moves on at once.
* Editing or deleting a policy never changes open incidents: they keep escalating along their frozen copy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from opsknight.accounts import Principal
from opsknight.admin import Conflict, Invalid, NotFound, audit, authorize, parse
from opsknight.admin.fields import Id, LongText, Name
from opsknight.engine import clock
from opsknight.models import (
    EscalationPolicy, EscalationStep, EscalationStepTarget, Schedule, Service, Team, User, UserStatus,
)
from opsknight.permissions import Permission

MAX_STEPS = 20
MAX_TARGETS = 50
MAX_DELAY = 7 * 24 * 60
MAX_REPEATS = 9
ENTITY = "escalation_policy"
TARGET_TABLES = {"user": User, "schedule": Schedule, "team": Team}
TargetKind = Literal["user", "schedule", "team"]


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: TargetKind
    id: Id


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_minutes: int = Field(
        default=30, le=MAX_DELAY, json_schema_extra={"minimum": 0},
        description="Minutes this step's targets have to acknowledge before the next step is paged (0: at once)")
    # minItems only documents the rule: the admin layer checks it, with a message naming the step.
    targets: list[TargetIn] = Field(default_factory=list, max_length=MAX_TARGETS, json_schema_extra={"minItems": 1},
                                    description="At least one user, schedule or team")


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: LongText = ""
    repeat_count: int = Field(default=0, ge=0, le=MAX_REPEATS, description="Times to start over after the last step")
    escalate_low_urgency: bool = Field(default=True, description="False: low-urgency incidents page step 1 only")
    steps: list[StepIn] = Field(default_factory=list, max_length=MAX_STEPS, json_schema_extra={"minItems": 1},
                                description="In paging order")


class PolicyPatch(BaseModel):
    """Only the fields sent change; `steps`, when sent, replaces every step."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: LongText | None = None
    repeat_count: int | None = Field(default=None, ge=0, le=MAX_REPEATS)
    escalate_low_urgency: bool | None = None
    steps: list[StepIn] | None = Field(default=None, max_length=MAX_STEPS)


class ReorderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: list[int] = Field(max_length=MAX_STEPS, description="Current step positions (0-based) in the new order")


# --- reading ---------------------------------------------------------------------------------------------------


def _get(db: Session, policy_id: int, *, lock: bool = False) -> EscalationPolicy:
    query = select(EscalationPolicy).where(EscalationPolicy.id == policy_id)
    policy = db.exec(query.with_for_update() if lock else query).first()
    if policy is None:
        raise NotFound(f"No escalation policy {policy_id}")
    return policy


def _steps(db: Session, policy_id: int) -> list[dict]:
    """[{"delay_minutes", "targets": [{"type", "id"}]}] in paging order, targets in the order they were given."""
    steps = db.exec(select(EscalationStep).where(EscalationStep.policy_id == policy_id)
                    .order_by(EscalationStep.position)).all()
    targets = db.exec(select(EscalationStepTarget).where(EscalationStepTarget.step_id.in_([s.id for s in steps]))
                      .order_by(EscalationStepTarget.id)).all() if steps else []
    by_step: dict[int, list[dict]] = {}
    for target in targets:
        by_step.setdefault(target.step_id, []).append({"type": target.target_type, "id": target.target_id})
    return [{"delay_minutes": s.delay_minutes, "targets": by_step.get(s.id, [])} for s in steps]


def _state(db: Session, policy: EscalationPolicy) -> dict:
    """What the audit log compares before and after a change."""
    return {"name": policy.name, "description": policy.description, "repeat_count": policy.repeat_count,
            "escalate_low_urgency": policy.escalate_low_urgency, "steps": _steps(db, policy.id)}


def target_names(db: Session, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Display names of existing targets; a missing one is simply absent."""
    names: dict[tuple[str, int], str] = {}
    for kind, table in TARGET_TABLES.items():
        ids = {target_id for target_kind, target_id in targets if target_kind == kind}
        if ids:
            for row_id, name in db.exec(select(table.id, table.name).where(table.id.in_(ids))).all():
                names[(kind, row_id)] = name
    return names


def services_using(db: Session, policy_ids: list[int]) -> dict[int, list[dict]]:
    """{policy id: [{"id", "name"}]} of the services each policy pages for."""
    out: dict[int, list[dict]] = {policy_id: [] for policy_id in policy_ids}
    if not policy_ids:
        return out
    rows = db.exec(select(Service.escalation_policy_id, Service.id, Service.name)
                   .where(Service.escalation_policy_id.in_(policy_ids)).order_by(Service.name)).all()
    for policy_id, service_id, name in rows:
        out[policy_id].append({"id": service_id, "name": name})
    return out


def _detail(db: Session, policy: EscalationPolicy) -> dict:
    steps = _steps(db, policy.id)
    names = target_names(db, [(t["type"], t["id"]) for s in steps for t in s["targets"]])
    return {
        "id": policy.id, "name": policy.name, "description": policy.description,
        "repeat_count": policy.repeat_count, "escalate_low_urgency": policy.escalate_low_urgency,
        "created_at": policy.created_at.isoformat(),
        "updated_at": policy.updated_at.isoformat() if policy.updated_at else None,
        "steps": [{"position": position, "delay_minutes": step["delay_minutes"],
                   "targets": [{**t, "name": names.get((t["type"], t["id"]), f"(deleted {t['type']} {t['id']})")}
                               for t in step["targets"]]}
                  for position, step in enumerate(steps)],
        "services": services_using(db, [policy.id])[policy.id],
    }


def list_policies(db: Session, actor: Principal | None, *, limit: int = 100,
                  cursor: int | None = None) -> tuple[list[dict], int | None]:
    """Policies by id with their step count and the services using them; the cursor is the last id seen."""
    authorize(actor, Permission.READ)
    query = select(EscalationPolicy).order_by(EscalationPolicy.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(EscalationPolicy.id > cursor)
    policies = db.exec(query).all()
    page = policies[:limit]
    ids = [p.id for p in page]
    counts = dict(db.exec(select(EscalationStep.policy_id, func.count()).where(EscalationStep.policy_id.in_(ids))
                          .group_by(EscalationStep.policy_id)).all()) if ids else {}
    used_by = services_using(db, ids)
    data = [{"id": p.id, "name": p.name, "description": p.description, "repeat_count": p.repeat_count,
             "escalate_low_urgency": p.escalate_low_urgency, "step_count": counts.get(p.id, 0),
             "services": used_by[p.id]} for p in page]
    return data, (page[-1].id if len(policies) > limit else None)


def get_policy(db: Session, actor: Principal | None, policy_id: int) -> dict:
    """The policy with its steps (targets named) and the services using it."""
    authorize(actor, Permission.READ)
    return _detail(db, _get(db, policy_id))


def target_options(db: Session, actor: Principal | None) -> list[dict]:
    """What a step may page, for pickers: [{"key": "user:3", "label": "User: Ann (ann@example.com)"}, ...]."""
    authorize(actor, Permission.READ)
    users = db.exec(select(User).where(User.status == UserStatus.ACTIVE).order_by(User.name).limit(1000)).all()
    schedules = db.exec(select(Schedule.id, Schedule.name).order_by(Schedule.name).limit(1000)).all()
    teams = db.exec(select(Team.id, Team.name).order_by(Team.name).limit(1000)).all()
    return ([{"key": f"user:{u.id}", "label": f"User: {u.name} ({u.email})"} for u in users]
            + [{"key": f"schedule:{i}", "label": f"Schedule: {name}"} for i, name in schedules]
            + [{"key": f"team:{i}", "label": f"Team: {name}"} for i, name in teams])


# --- validating and writing --------------------------------------------------------------------------------------


def _check_steps(db: Session, steps: list[StepIn]) -> None:
    """Refuse what would page nobody: no steps, a step without targets, a negative delay, a target that is gone."""
    problems: list[tuple[str, str]] = []  # (field path, message a person reads)
    if not steps:
        problems.append(("steps", "A policy needs at least one step"))
    names = target_names(db, [(t.type, t.id) for step in steps for t in step.targets])
    for index, step in enumerate(steps):
        label = f"Step {index + 1}"
        if step.delay_minutes < 0:
            problems.append((f"steps.{index}.delay_minutes",
                             f"{label}: the delay cannot be negative (0 pages the next step at once)"))
        if not step.targets:
            problems.append((f"steps.{index}.targets", f"{label} has no targets: add a user, schedule or team"))
        for t_index, target in enumerate(step.targets):
            if (target.type, target.id) not in names:
                problems.append((f"steps.{index}.targets.{t_index}",
                                 f"{label}: {target.type} {target.id} does not exist"))
    if problems:
        messages = [message for _, message in problems]
        summary = "; ".join(messages) if len(messages) <= 3 else f"{len(messages)} problems: {messages[0]}; ..."
        raise Invalid(summary, [f"{path}: {message}" for path, message in problems])


def _write_steps(db: Session, policy_id: int, steps: list[dict]) -> None:
    """Replace every step of the policy: positions 0..n-1 in the order given, each target once."""
    db.exec(delete(EscalationStep).where(EscalationStep.policy_id == policy_id))  # targets go by ON DELETE CASCADE
    for position, step in enumerate(steps):
        row = EscalationStep(policy_id=policy_id, position=position, delay_minutes=step["delay_minutes"])
        db.add(row)
        db.flush()
        for kind, target_id in dict.fromkeys((t["type"], t["id"]) for t in step["targets"]):
            db.add(EscalationStepTarget(step_id=row.id, target_type=kind, target_id=target_id))
    db.flush()


def _ensure_name_free(db: Session, name: str, policy_id: int | None = None) -> None:
    query = select(EscalationPolicy.id).where(EscalationPolicy.name == name)
    if policy_id is not None:
        query = query.where(EscalationPolicy.id != policy_id)
    if db.exec(query).first() is not None:
        raise Conflict(f"An escalation policy named '{name}' already exists", ["name: already taken"])


def _flush(db: Session, name: str) -> None:
    try:
        db.flush()
    except IntegrityError:  # a concurrent save took the name first
        raise Conflict(f"An escalation policy named '{name}' already exists", ["name: already taken"]) from None


def _plain(steps: list[StepIn]) -> list[dict]:
    return [{"delay_minutes": s.delay_minutes, "targets": [{"type": t.type, "id": t.id} for t in s.targets]}
            for s in steps]


def create_policy(db: Session, actor: Principal | None, data: dict | BaseModel) -> dict:
    authorize(actor, Permission.CONFIGURE)
    body = parse(PolicyIn, data)
    _check_steps(db, body.steps)
    _ensure_name_free(db, body.name)
    policy = EscalationPolicy(name=body.name, description=body.description, repeat_count=body.repeat_count,
                              escalate_low_urgency=body.escalate_low_urgency, created_at=clock.now())
    db.add(policy)
    _flush(db, body.name)
    _write_steps(db, policy.id, _plain(body.steps))
    audit.record(db, actor, f"{ENTITY}.create", ENTITY, policy.id, audit.changes_between({}, _state(db, policy)))
    return _detail(db, policy)


def update_policy(db: Session, actor: Principal | None, policy_id: int, data: dict | BaseModel) -> dict:
    """Change what was sent; steps, when sent, are all replaced (open incidents keep their frozen copy)."""
    authorize(actor, Permission.CONFIGURE)
    body = parse(PolicyPatch, data)
    policy = _get(db, policy_id, lock=True)
    before = _state(db, policy)
    if body.steps is not None:
        _check_steps(db, body.steps)
    if body.name is not None:
        _ensure_name_free(db, body.name, policy.id)
    for field in ("name", "description", "repeat_count", "escalate_low_urgency"):
        if getattr(body, field) is not None:
            setattr(policy, field, getattr(body, field))
    _flush(db, policy.name)
    if body.steps is not None:
        _write_steps(db, policy.id, _plain(body.steps))
    return _save(db, actor, policy, before, "update")


def reorder_steps(db: Session, actor: Principal | None, policy_id: int, data: dict | BaseModel) -> dict:
    """Put the steps in a new order, e.g. [1, 0, 2] swaps the first two; delays and targets move with their step."""
    authorize(actor, Permission.CONFIGURE)
    body = parse(ReorderIn, data)
    policy = _get(db, policy_id, lock=True)
    before = _state(db, policy)
    steps = before["steps"]
    if sorted(body.order) != list(range(len(steps))):
        raise Invalid(f"List every step position 0..{len(steps) - 1} exactly once",
                      [f"order: must be a permutation of 0..{len(steps) - 1}"])
    _write_steps(db, policy.id, [steps[i] for i in body.order])
    return _save(db, actor, policy, before, "reorder")


def _save(db: Session, actor: Principal | None, policy: EscalationPolicy, before: dict, verb: str) -> dict:
    changes = audit.changes_between(before, _state(db, policy))
    if changes:  # saving an unchanged form is not a change
        policy.updated_at = clock.now()
        db.add(policy)
        _flush(db, policy.name)
        audit.record(db, actor, f"{ENTITY}.{verb}", ENTITY, policy.id, changes)
    return _detail(db, policy)


def delete_policy(db: Session, actor: Principal | None, policy_id: int) -> None:
    """Delete a policy no service uses (a service without a policy would page nobody)."""
    authorize(actor, Permission.CONFIGURE)
    policy = _get(db, policy_id, lock=True)
    services = services_using(db, [policy.id])[policy.id]
    if services:
        raise _in_use(policy, [s["name"] for s in services])
    audit.record(db, actor, f"{ENTITY}.delete", ENTITY, policy.id, audit.changes_between(_state(db, policy), {}))
    db.delete(policy)
    try:
        db.flush()
    except IntegrityError:  # a service was given this policy while we were deleting it
        raise _in_use(policy, []) from None


def _in_use(policy: EscalationPolicy, service_names: list[str]) -> Conflict:
    named = f": {', '.join(service_names)}" if service_names else ""
    return Conflict(f"'{policy.name}' is still used by services{named}. Give them another policy first.",
                    [f"services: {name}" for name in service_names])
