"""Pure escalation step math, table-driven."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from opsknight.engine.escalation import FIRST, Position, escalation_due, next_position, positions_from

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)


def policy(delays=(5, 10), repeat=0, low_escalates=True):
    return {"steps": [{"delay_minutes": d, "targets": [{"type": "user", "id": i}]} for i, d in enumerate(delays)],
            "repeat_count": repeat, "escalate_low_urgency": low_escalates}


@pytest.mark.parametrize(("snapshot", "position", "urgency", "expected"), [
    (policy(), FIRST, "high", Position(1, 0)),
    (policy(), Position(1, 0), "high", None),  # exhausted
    (policy(repeat=2), Position(1, 0), "high", Position(0, 1)),
    (policy(repeat=2), Position(1, 1), "high", Position(0, 2)),
    (policy(repeat=2), Position(1, 2), "high", None),
    (policy(delays=(5,)), FIRST, "high", None),
    (policy(delays=(5,), repeat=1), FIRST, "high", Position(0, 1)),
    (policy(low_escalates=False), FIRST, "low", None),  # notify only
    (policy(low_escalates=False), FIRST, "high", Position(1, 0)),
    (policy(low_escalates=True), FIRST, "low", Position(1, 0)),
])
def test_next_position(snapshot, position, urgency, expected):
    assert next_position(snapshot, position, urgency) == expected


def test_escalation_due_is_entry_plus_the_steps_delay():
    assert escalation_due(policy(), FIRST, "high", T0) == T0 + timedelta(minutes=5)
    assert escalation_due(policy(), Position(1, 0), "high", T0) is None
    assert escalation_due(policy(delays=(0, 3)), FIRST, "high", T0) == T0


def test_negative_delay_in_a_snapshot_is_treated_as_zero():
    assert escalation_due(policy(delays=(-4, 1)), FIRST, "high", T0) == T0


def test_positions_from_walks_one_pass_at_most():
    assert positions_from(policy(delays=(1, 1, 1), repeat=3), Position(1, 0), "high") == [
        Position(1, 0), Position(2, 0), Position(0, 1)]
    assert positions_from(policy(), Position(1, 0), "high") == [Position(1, 0)]
    assert positions_from({"steps": []}, FIRST, "high") == []
