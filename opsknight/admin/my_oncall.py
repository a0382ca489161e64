""""My on call": what one responder needs to know about their on-call life, in one read.

``my_oncall(db, actor, now)`` answers, for the signed-in user, with plain dicts (times UTC ISO with ``Z``):

* ``now``: the schedules the user is on call for at ``now``, each with ``until`` (the end of the run of adjacent
  blocks they stay on call in; ``until_beyond_horizon`` when that run reaches the end of the 14-day window), and
  the escalation policies whose steps reach them now — directly, through a team they belong to, or through a
  schedule they are on call for — with the (1-based) step numbers. ``on_call`` is true when either list is not
  empty.
* ``shifts``: the user's runs of blocks over ``[now, now + 14 days)`` on every schedule, by start. The blocks come
  from ``schedule_store.load_spec`` + ``oncall.final_blocks`` over exactly that range, the code
  ``GET /api/v1/schedules/{id}/final`` runs, so for one person on call at a time (what layers and overrides
  produce) they are exactly that endpoint's blocks naming the user.
* ``everyone``: every schedule's current on-call people and next handoff (``oncall_overview``, the code the
  schedules page uses), plus its upcoming blocks over the same 14 days so a shift can be taken from them.
* ``brief``: for the current shift (the one ending last, if on call on several schedules now), else the next
  one: the open (triggered or acknowledged) incidents on services whose escalation policy can reach the user
  during that shift, and the snoozes that expire inside ``[start, end)`` of it. Without any shift in 14 days the
  brief still lists incidents of policies that page the user directly or through a team.
* ``give_to``: per schedule the user has a shift on, the active colleagues in its rotations; ``can_give_away``
  and ``give_away_reason`` say whether this actor may put someone else on call (admins only; see
  ``schedule_overrides``).

Queries are bounded: at most ``MAX_SCHEDULES`` schedules get a 14-day block list, ``BLOCKS_SHOWN`` blocks each,
``BRIEF_LIMIT`` incidents per list; policy steps, teams, incidents and names are read with one statement each,
whatever the number of incidents.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from opsknight.accounts import Principal
from opsknight.admin import authorize
from opsknight.engine import oncall, oncall_overview
from opsknight.engine.schedule_store import load_spec
from opsknight.models import (
    EscalationPolicy,
    EscalationStep,
    EscalationStepTarget,
    Incident,
    IncidentStatus,
    ScheduleLayer,
    ScheduleLayerMember,
    Service,
    Team,
    TeamMembership,
    User,
    UserStatus,
)
from opsknight.permissions import Permission, allowed

HORIZON = timedelta(days=14)
MAX_SCHEDULES = 200  # schedules whose 14 days are computed (each is one spec load and one final_blocks)
BLOCKS_SHOWN = 60  # upcoming blocks listed per schedule in `everyone` (two weeks of 6-hour shifts)
BRIEF_LIMIT = 50  # incidents per brief list
MAX_ROWS = 5000  # policy-step targets and rotation members read at once
OPEN = (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED)
GIVE_AWAY_REASON = ("Only an admin can put someone else on call: ask a colleague to take it from their On call "
                    "page, or an admin")


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def my_oncall(db: Session, actor: Principal | None, now: datetime) -> dict[str, Any]:
    """The whole "My on call" answer for ``actor`` at ``now`` (see the module docstring)."""
    actor = authorize(actor, Permission.READ)
    me = actor.user_id
    now = now.astimezone(UTC)
    end = now + HORIZON
    overview = oncall_overview.overview(db, now)
    blocks = {s["id"]: _blocks(db, s["id"], now, end) for s in overview["schedules"][:MAX_SCHEDULES]}
    names = {s["id"]: s["name"] for s in overview["schedules"]}

    shifts = sorted((_shift(sid, names[sid], start, stop, now, end) for sid, found in blocks.items() if found
                     for start, stop in _runs(found, me)), key=lambda s: (s["start"], s["schedule_name"], s["end"]))
    on_call_now = {s["id"] for s in overview["schedules"] if me in s["user_ids"]}
    targets = _targets_reaching(db, me, {s["schedule_id"] for s in shifts} | on_call_now)
    current = [s for s in shifts if s["current"]]
    brief_shift = max(current, key=lambda s: s["end"]) if current else (shifts[0] if shifts else None)
    in_brief = {s["schedule_id"] for s in shifts if brief_shift and s["start"] < brief_shift["end"]
                and s["end"] > brief_shift["start"]}
    users = _user_names(db, {u for found in blocks.values() if found for b in found for u in b.user_ids}
                        | {u for s in overview["schedules"] for u in s["user_ids"] + s["next_user_ids"]})
    give_to = _colleagues(db, me, {s["schedule_id"] for s in shifts})
    users.update({c["id"]: c["name"] for people in give_to.values() for c in people})
    policies_now = _policies(targets, on_call_now)
    return {
        "at": iso(now), "horizon_end": iso(end), "user_id": me,
        "now": {"on_call": bool(current or policies_now),
                "schedules": [{"id": s["schedule_id"], "name": s["schedule_name"], "until": s["end"],
                               "until_beyond_horizon": s["ends_beyond_horizon"]} for s in current],
                "policies": policies_now},
        "shifts": shifts,
        "everyone": [_everyone(s, blocks.get(s["id"]), me) for s in overview["schedules"]],
        "brief": _brief(db, brief_shift, _policies(targets, in_brief), now),
        "give_to": {str(sid): people for sid, people in give_to.items()},
        "can_give_away": allowed(actor, Permission.CONFIGURE),
        "give_away_reason": "" if allowed(actor, Permission.CONFIGURE) else GIVE_AWAY_REASON,
        "users": [{"id": i, "name": n} for i, n in sorted(users.items())],
    }


# --- schedules ----------------------------------------------------------------------------------------------------


def _blocks(db: Session, schedule_id: int, start: datetime, end: datetime) -> list[oncall.Block] | None:
    """``/final``'s blocks over ``[start, end)``: the same load and the same math. None: it cannot be evaluated
    (``everyone`` carries the overview's error for it)."""
    try:
        spec = load_spec(db, schedule_id, start, end)
    except ValueError:
        return None
    return oncall.final_blocks(spec, start, end) if spec is not None else None


def _runs(blocks: list[oncall.Block], user_id: int) -> list[tuple[datetime, datetime]]:
    """The stretches the user is on call, adjacent blocks that all name them merged into one shift."""
    runs: list[tuple[datetime, datetime]] = []
    for block in blocks:
        if user_id in block.user_ids:
            if runs and runs[-1][1] == block.start:
                runs[-1] = (runs[-1][0], block.end)
            else:
                runs.append((block.start, block.end))
    return runs


def _shift(schedule_id: int, name: str, start: datetime, end: datetime, now: datetime,
           horizon_end: datetime) -> dict[str, Any]:
    return {"schedule_id": schedule_id, "schedule_name": name, "start": iso(start), "end": iso(end),
            "current": start <= now, "ends_beyond_horizon": end >= horizon_end}


def _everyone(entry: dict[str, Any], blocks: list[oncall.Block] | None, me: int) -> dict[str, Any]:
    upcoming = [{"start": iso(b.start), "end": iso(b.end), "user_ids": list(b.user_ids), "gap": not b.user_ids,
                 "mine": me in b.user_ids} for b in (blocks or [])[:BLOCKS_SHOWN]]
    return {"id": entry["id"], "name": entry["name"], "time_zone": entry["time_zone"],
            "user_ids": entry["user_ids"], "gap": entry["gap"], "next_change_at": entry["next_change_at"],
            "next_user_ids": entry["next_user_ids"], "error": entry.get("error"), "blocks": upcoming}


def _colleagues(db: Session, me: int, schedule_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
    """Active people (not ``me``) in each schedule's rotations: whom a shift there can be given to."""
    if not schedule_ids:
        return {}
    rows = db.exec(select(ScheduleLayer.schedule_id, User.id, User.name)
                   .join(ScheduleLayerMember, ScheduleLayerMember.layer_id == ScheduleLayer.id)
                   .join(User, User.id == ScheduleLayerMember.user_id)
                   .where(ScheduleLayer.schedule_id.in_(sorted(schedule_ids)), User.status == UserStatus.ACTIVE,
                          User.id != me)
                   .distinct().order_by(ScheduleLayer.schedule_id, User.name, User.id).limit(MAX_ROWS)).all()
    found: dict[int, list[dict[str, Any]]] = {}
    for schedule_id, user_id, name in rows:
        found.setdefault(schedule_id, []).append({"id": user_id, "name": name})
    return found


def _user_names(db: Session, ids: set[int]) -> dict[int, str]:
    return dict(db.exec(select(User.id, User.name).where(User.id.in_(sorted(ids)))).all()) if ids else {}


# --- escalation policies ------------------------------------------------------------------------------------------


def _targets_reaching(db: Session, me: int, schedule_ids: set[int]) -> list[tuple]:
    """Every policy-step target that can mean ``me``: me, a team of mine, or one of ``schedule_ids``; each row
    ``(policy_id, policy_name, step_number, target_type, target_id, target_name)``. One statement: the step number
    is the step's rank in its policy (the index escalation uses), counted in SQL."""
    earlier = aliased(EscalationStep)
    rank = (select(func.count()).where(earlier.policy_id == EscalationStep.policy_id,
                                       earlier.position < EscalationStep.position).scalar_subquery() + 1)
    my_teams = select(TeamMembership.team_id).where(TeamMembership.user_id == me)
    t = EscalationStepTarget
    reaches = or_(and_(t.target_type == "user", t.target_id == me),
                  and_(t.target_type == "team", t.target_id.in_(my_teams)),
                  and_(t.target_type == "schedule", t.target_id.in_(sorted(schedule_ids))) if schedule_ids else false())
    rows = db.exec(select(EscalationPolicy.id, EscalationPolicy.name, rank, t.target_type, t.target_id, Team.name)
                   .join(EscalationStep, EscalationStep.policy_id == EscalationPolicy.id)
                   .join(t, t.step_id == EscalationStep.id)
                   .join(Team, and_(t.target_type == "team", Team.id == t.target_id), isouter=True)
                   .where(reaches).order_by(EscalationPolicy.name, EscalationPolicy.id, EscalationStep.position)
                   .limit(MAX_ROWS)).all()
    return list(rows)


def _policies(targets: list[tuple], on_call: set[int]) -> list[dict[str, Any]]:
    """The policies whose steps reach me when I am on call for exactly the schedules ``on_call``: each with its
    steps and, per step, what reaches me (``{"type", "id", "name"}``; a user target is me)."""
    found: dict[int, dict[str, Any]] = {}
    for policy_id, policy_name, step, kind, target_id, team_name in targets:
        if kind == "schedule" and target_id not in on_call:
            continue
        policy = found.setdefault(policy_id, {"id": policy_id, "name": policy_name, "steps": []})
        if not policy["steps"] or policy["steps"][-1]["step"] != step:
            policy["steps"].append({"step": step, "via": []})
        policy["steps"][-1]["via"].append({"type": kind, "id": target_id, "name": team_name})
    return list(found.values())


# --- the brief ----------------------------------------------------------------------------------------------------


def _brief(db: Session, shift: dict[str, Any] | None, policies: list[dict[str, Any]],
           now: datetime) -> dict[str, Any]:
    policy_ids = [p["id"] for p in policies]
    brief: dict[str, Any] = {"shift": shift, "policy_ids": policy_ids, "incidents": [], "open_count": 0,
                             "expiring_snoozes": []}
    if not policy_ids:
        return brief
    reachable = and_(Service.escalation_policy_id.in_(policy_ids), Incident.status.in_(OPEN))
    rank = case((Incident.status == IncidentStatus.TRIGGERED, 0), else_=1)
    query = select(Incident, Service.name).join(Service, Service.id == Incident.service_id).where(reachable)
    rows = db.exec(query.order_by(rank, Incident.created_at.desc(), Incident.id.desc()).limit(BRIEF_LIMIT)).all()
    brief["incidents"] = [_incident(i, name, now) for i, name in rows]
    brief["open_count"] = db.exec(select(func.count()).select_from(Incident)
                                  .join(Service, Service.id == Incident.service_id).where(reachable)).one()
    if shift is not None:
        start, end = datetime.fromisoformat(shift["start"]), datetime.fromisoformat(shift["end"])
        expiring = db.exec(query.where(Incident.snoozed_until >= start, Incident.snoozed_until < end)
                           .order_by(Incident.snoozed_until, Incident.id).limit(BRIEF_LIMIT)).all()
        brief["expiring_snoozes"] = [_incident(i, name, now) for i, name in expiring]
    return brief


def _incident(row: Incident, service_name: str, now: datetime) -> dict[str, Any]:
    snoozed = row.snoozed_until is not None and row.snoozed_until > now
    return {"id": row.id, "number": row.number, "title": row.title, "status": row.status, "urgency": row.urgency,
            "service_id": row.service_id, "service_name": service_name, "created_at": iso(row.created_at),
            "snoozed_until": iso(row.snoozed_until), "snoozed": snoozed}
