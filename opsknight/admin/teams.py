"""Teams and their members. A team is paged as a whole when an escalation step targets it (every member)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from opsknight.accounts import Principal
from opsknight.admin import Conflict, NotFound, audit, authorize, parse
from opsknight.admin.fields import Id, LongText, Name
from opsknight.engine import clock
from opsknight.models import (
    EscalationPolicy, EscalationStep, EscalationStepTarget, Team, TeamMembership, TeamRole, User, UserStatus,
)
from opsknight.permissions import Permission

ENTITY = "team"
RoleName = Literal["member", "manager"]


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: LongText = ""


class TeamPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: LongText | None = None


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id
    role: RoleName = TeamRole.MEMBER.value


class MemberRoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: RoleName


def _get(db: Session, team_id: int, *, lock: bool = False) -> Team:
    query = select(Team).where(Team.id == team_id)
    team = db.exec(query.with_for_update() if lock else query).first()
    if team is None:
        raise NotFound(f"No team {team_id}")
    return team


def _json(team: Team, member_count: int) -> dict:
    return {"id": team.id, "name": team.name, "description": team.description,
            "created_at": team.created_at.isoformat(), "member_count": member_count}


def _members(db: Session, team_id: int) -> list[dict]:
    rows = db.exec(select(TeamMembership, User).join(User, User.id == TeamMembership.user_id)
                   .where(TeamMembership.team_id == team_id).order_by(User.name, User.id)).all()
    return [{"user_id": user.id, "name": user.name, "email": user.email, "status": user.status,
             "role": membership.role, "since": membership.created_at.isoformat()} for membership, user in rows]


def list_teams(db: Session, actor: Principal | None, *, limit: int = 100,
               cursor: int | None = None) -> tuple[list[dict], int | None]:
    """Teams by id with their member counts; the cursor is the last id seen."""
    authorize(actor, Permission.READ)
    query = select(Team).order_by(Team.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(Team.id > cursor)
    teams = db.exec(query).all()
    page = teams[:limit]
    ids = [t.id for t in page]
    counts = dict(db.exec(select(TeamMembership.team_id, func.count()).where(TeamMembership.team_id.in_(ids))
                          .group_by(TeamMembership.team_id)).all()) if ids else {}
    return [_json(t, counts.get(t.id, 0)) for t in page], (page[-1].id if len(teams) > limit else None)


def get_team(db: Session, actor: Principal | None, team_id: int) -> dict:
    """The team with its members."""
    authorize(actor, Permission.READ)
    team = _get(db, team_id)
    members = _members(db, team.id)
    return {**_json(team, len(members)), "members": members}


def list_members(db: Session, actor: Principal | None, team_id: int) -> list[dict]:
    authorize(actor, Permission.READ)
    return _members(db, _get(db, team_id).id)


def candidates(db: Session, actor: Principal | None, team_id: int) -> list[dict]:
    """Active users not yet in the team, for the add-member picker."""
    authorize(actor, Permission.READ)
    members = select(TeamMembership.user_id).where(TeamMembership.team_id == team_id)
    users = db.exec(select(User).where(User.status == UserStatus.ACTIVE, User.id.not_in(members))
                    .order_by(User.name, User.id).limit(1000)).all()
    return [{"user_id": u.id, "name": u.name, "email": u.email} for u in users]


def _ensure_name_free(db: Session, name: str, team_id: int | None = None) -> None:
    query = select(Team.id).where(Team.name == name)
    if team_id is not None:
        query = query.where(Team.id != team_id)
    if db.exec(query).first() is not None:
        raise Conflict(f"A team named '{name}' already exists", ["name: already taken"])


def _flush(db: Session, conflict: Conflict) -> None:
    try:
        db.flush()
    except IntegrityError:  # a concurrent request got there first
        raise conflict from None


def create_team(db: Session, actor: Principal | None, data: dict | BaseModel) -> dict:
    authorize(actor, Permission.CONFIGURE)
    body = parse(TeamIn, data)
    _ensure_name_free(db, body.name)
    team = Team(name=body.name, description=body.description, created_at=clock.now())
    db.add(team)
    _flush(db, Conflict(f"A team named '{body.name}' already exists", ["name: already taken"]))
    audit.record(db, actor, f"{ENTITY}.create", ENTITY, team.id,
                 audit.changes_between({}, {"name": team.name, "description": team.description}))
    return {**_json(team, 0), "members": []}


def update_team(db: Session, actor: Principal | None, team_id: int, data: dict | BaseModel) -> dict:
    authorize(actor, Permission.CONFIGURE)
    body = parse(TeamPatch, data)
    team = _get(db, team_id, lock=True)
    before = {"name": team.name, "description": team.description}
    if body.name is not None:
        _ensure_name_free(db, body.name, team.id)
        team.name = body.name
    if body.description is not None:
        team.description = body.description
    changes = audit.changes_between(before, {"name": team.name, "description": team.description})
    if changes:
        db.add(team)
        _flush(db, Conflict(f"A team named '{team.name}' already exists", ["name: already taken"]))
        audit.record(db, actor, f"{ENTITY}.update", ENTITY, team.id, changes)
    members = _members(db, team.id)
    return {**_json(team, len(members)), "members": members}


def _policies_paging(db: Session, team_id: int) -> list[str]:
    return list(db.exec(
        select(EscalationPolicy.name).distinct()
        .join(EscalationStep, EscalationStep.policy_id == EscalationPolicy.id)
        .join(EscalationStepTarget, EscalationStepTarget.step_id == EscalationStep.id)
        .where(EscalationStepTarget.target_type == "team", EscalationStepTarget.target_id == team_id)
        .order_by(EscalationPolicy.name)).all())


def delete_team(db: Session, actor: Principal | None, team_id: int) -> None:
    """Delete a team no escalation step pages (removing it from a step could leave the step paging nobody)."""
    authorize(actor, Permission.CONFIGURE)
    team = _get(db, team_id, lock=True)
    policies = _policies_paging(db, team.id)
    if policies:
        raise Conflict(f"Team '{team.name}' is paged by escalation policies: {', '.join(policies)}. "
                       "Remove it from their steps first.", [f"escalation_policies: {name}" for name in policies])
    audit.record(db, actor, f"{ENTITY}.delete", ENTITY, team.id, audit.changes_between(
        {"name": team.name, "description": team.description,
         "members": [m["user_id"] for m in _members(db, team.id)]}, {}))
    db.delete(team)  # memberships go by ON DELETE CASCADE; services and schedules keep running without a team
    db.flush()


def _membership(db: Session, team_id: int, user_id: int) -> TeamMembership | None:
    return db.exec(select(TeamMembership).where(TeamMembership.team_id == team_id,
                                                TeamMembership.user_id == user_id)).first()


def add_member(db: Session, actor: Principal | None, team_id: int, data: dict | BaseModel) -> dict:
    authorize(actor, Permission.CONFIGURE)
    body = parse(MemberIn, data)
    team = _get(db, team_id, lock=True)
    user = db.get(User, body.user_id)
    if user is None:
        raise NotFound(f"No user {body.user_id}", [f"user_id: no user {body.user_id}"])
    conflict = Conflict(f"{user.name} is already a member of '{team.name}'", ["user_id: already a member"])
    if _membership(db, team.id, user.id) is not None:
        raise conflict
    db.add(TeamMembership(team_id=team.id, user_id=user.id, role=body.role, created_at=clock.now()))
    _flush(db, conflict)
    audit.record(db, actor, f"{ENTITY}.member_add", ENTITY, team.id,
                 {"user_id": user.id, "user": user.email, "role": body.role})
    return next(m for m in _members(db, team.id) if m["user_id"] == user.id)


def set_member_role(db: Session, actor: Principal | None, team_id: int, user_id: int,
                    data: dict | BaseModel) -> dict:
    authorize(actor, Permission.CONFIGURE)
    body = parse(MemberRoleIn, data)
    team = _get(db, team_id, lock=True)
    membership = _membership(db, team.id, user_id)
    if membership is None:
        raise NotFound(f"User {user_id} is not a member of '{team.name}'")
    if membership.role != body.role:
        audit.record(db, actor, f"{ENTITY}.member_role", ENTITY, team.id,
                     {"user_id": user_id, "role": [membership.role, body.role]})
        membership.role = body.role
        db.add(membership)
        db.flush()
    return next(m for m in _members(db, team.id) if m["user_id"] == user_id)


def remove_member(db: Session, actor: Principal | None, team_id: int, user_id: int) -> None:
    authorize(actor, Permission.CONFIGURE)
    team = _get(db, team_id, lock=True)
    membership = _membership(db, team.id, user_id)
    if membership is None:
        raise NotFound(f"User {user_id} is not a member of '{team.name}'")
    audit.record(db, actor, f"{ENTITY}.member_remove", ENTITY, team.id,
                 {"user_id": user_id, "role": membership.role})
    db.delete(membership)
    db.flush()
