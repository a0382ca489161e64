"""Pure escalation step math over a frozen policy snapshot. No database, no clock: `now` is an argument.

A snapshot (see `process.policy_snapshot`) is `{"steps": [{"delay_minutes": int, "targets": [...]}, ...],
"repeat_count": int, "escalate_low_urgency": bool}`. An incident sits at a `Position(step, repeat)`. On reaching
a step its targets are paged at once; when the step's delay runs out and nobody has acknowledged, the incident
moves to the next step; after the last step the policy starts over `repeat_count` more times; then it stops.
Low-urgency incidents page step 0 only when the policy says low urgency does not escalate (PagerDuty's
"notify only").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, order=True)
class Position:
    step: int
    repeat: int = 0


FIRST = Position(0, 0)


def steps(snapshot: dict) -> list[dict]:
    return list(snapshot.get("steps") or [])


def step_delay(snapshot: dict, position: Position) -> timedelta:
    return timedelta(minutes=max(0, int(steps(snapshot)[position.step].get("delay_minutes", 0))))


def step_targets(snapshot: dict, position: Position) -> list[dict]:
    return list(steps(snapshot)[position.step].get("targets") or [])


def escalates(snapshot: dict, urgency: str) -> bool:
    """Whether this incident moves past step 0 at all."""
    return urgency != "low" or bool(snapshot.get("escalate_low_urgency", True))


def next_position(snapshot: dict, position: Position, urgency: str) -> Position | None:
    """The position after `position`, or None when the policy is exhausted (or the incident doesn't escalate)."""
    if not escalates(snapshot, urgency):
        return None
    count = len(steps(snapshot))
    if position.step + 1 < count:
        return Position(position.step + 1, position.repeat)
    if position.repeat < int(snapshot.get("repeat_count") or 0):
        return Position(0, position.repeat + 1)
    return None


def escalation_due(snapshot: dict, position: Position, urgency: str, entered_at: datetime) -> datetime | None:
    """When to leave `position` for the next one, or None if nothing follows it."""
    if next_position(snapshot, position, urgency) is None:
        return None
    return entered_at + step_delay(snapshot, position)


def positions_from(snapshot: dict, start: Position, urgency: str) -> list[Position]:
    """`start` and the positions after it, in order, at most one full pass of the steps.

    Used to skip steps that resolve to nobody: the caller walks this list until a step pages someone. One pass
    is enough: if every step is empty right now, repeating the policy at this instant finds nobody either.
    """
    out, position = [], start
    while position is not None and len(out) < len(steps(snapshot)):
        out.append(position)
        position = next_position(snapshot, position, urgency)
    return out
