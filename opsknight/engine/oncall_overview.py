"""Who is on call at one instant, everywhere: every schedule, and the first step of every escalation policy.

Both answers come from the code paging runs, so this page can never disagree with who actually gets paged:
schedules through ``schedule_store.load_spec`` + ``engine.oncall``; a policy's first step through
``process.policy_snapshot`` + ``dispatch.resolve_targets`` (``paged``: the active users, each once, that step
would page at ``at``). Each target is listed too, with who it means (disabled users included, marked by
their absence from ``paged``). A schedule that cannot be evaluated is reported with an ``error``, not skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from opsknight.engine import dispatch, escalation, oncall, process
from opsknight.engine.schedule_store import load_spec
from opsknight.models import EscalationPolicy, Schedule, Team, TeamMembership, User

NEXT_CHANGE_HORIZON = timedelta(days=14)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _schedule_now(db: Session, schedule: Schedule, at: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": schedule.id, "name": schedule.name, "time_zone": schedule.time_zone}
    try:
        spec = load_spec(db, schedule.id, at, at + NEXT_CHANGE_HORIZON)
        who = oncall.on_call_at(spec, at)
        change = oncall.next_handoffs(spec, at, 1, NEXT_CHANGE_HORIZON)
    except ValueError as exc:  # malformed stored data: say so, keep answering for the other schedules
        return {**entry, "user_ids": [], "gap": True, "next_change_at": None, "next_user_ids": [],
                "error": f"cannot be evaluated: {exc}"}
    return {**entry, "user_ids": list(who), "gap": not who,
            "next_change_at": _iso(change[0][0]) if change else None,  # None: no change within the horizon
            "next_user_ids": list(change[0][1]) if change else []}


def overview(db: Session, at: datetime) -> dict[str, Any]:
    """``{"at", "schedules": [...], "escalation_policies": [...], "users": [...]}`` at the instant ``at``."""
    at = at.astimezone(UTC)
    schedules = [_schedule_now(db, s, at) for s in db.exec(select(Schedule).order_by(Schedule.name, Schedule.id))]
    by_schedule = {s["id"]: s for s in schedules}
    team_names = dict(db.exec(select(Team.id, Team.name)).all())
    policies = []
    for policy in db.exec(select(EscalationPolicy).order_by(EscalationPolicy.name, EscalationPolicy.id)):
        snapshot = process.policy_snapshot(db, policy)
        targets = escalation.step_targets(snapshot, escalation.FIRST) if snapshot["steps"] else []
        problems: list[str] = []
        paged = dispatch.resolve_targets(db, targets, at, problems)
        policies.append({"id": policy.id, "name": policy.name,
                         "targets": [_target(db, t, by_schedule, team_names) for t in targets],
                         "paged_user_ids": [u.id for u in paged], "problems": problems})
    ids = {u for s in schedules for u in s["user_ids"] + s["next_user_ids"]}
    ids |= {u for p in policies for t in p["targets"] for u in t["user_ids"]}
    users = db.exec(select(User).where(User.id.in_(ids)).order_by(User.name, User.id)).all() if ids else []
    return {"at": _iso(at), "schedules": schedules, "escalation_policies": policies,
            "users": [{"id": u.id, "name": u.name, "email": u.email, "status": u.status} for u in users]}


def _target(db: Session, target: dict, schedules: dict[int, dict], team_names: dict[int, str]) -> dict[str, Any]:
    kind, target_id = target["type"], target["id"]
    if kind == "schedule":
        schedule = schedules.get(target_id)
        return {"type": kind, "id": target_id, "name": schedule["name"] if schedule else None,
                "user_ids": schedule["user_ids"] if schedule else []}
    if kind == "team":
        members = db.exec(select(TeamMembership.user_id).where(TeamMembership.team_id == target_id)
                          .order_by(TeamMembership.id)).all()
        return {"type": kind, "id": target_id, "name": team_names.get(target_id), "user_ids": list(members)}
    user = db.get(User, target_id)
    return {"type": kind, "id": target_id, "name": user.name if user else None,
            "user_ids": [target_id] if user else []}
