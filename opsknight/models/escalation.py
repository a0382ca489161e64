"""Escalation policies: ordered steps, each paging users, schedules or teams."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsknight.models._base import _now, _one_of


class TargetType(StrEnum):
    """What an escalation step pages: a user, whoever is on call in a schedule, or every member of a team."""

    USER = "user"
    SCHEDULE = "schedule"
    TEAM = "team"


class EscalationPolicy(SQLModel, table=True):
    """Ordered steps; after the last step the policy starts over ``repeat_count`` more times."""

    __tablename__ = "escalation_policies"
    __table_args__ = (sa.CheckConstraint("repeat_count >= 0", name="repeat_count_nonnegative"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    description: str = Field(default="", sa_type=sa.Text)
    repeat_count: int = 0
    escalate_low_urgency: bool = True  # False: low-urgency incidents page step 0 only
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime | None = None


class EscalationStep(SQLModel, table=True):
    """Step ``position`` pages its targets; if nobody acknowledges within ``delay_minutes`` the next step runs."""

    __tablename__ = "escalation_steps"
    __table_args__ = (
        sa.UniqueConstraint("policy_id", "position"),
        sa.CheckConstraint("position >= 0", name="position_nonnegative"),
        sa.CheckConstraint("delay_minutes >= 0", name="delay_minutes_nonnegative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    policy_id: int = Field(foreign_key="escalation_policies.id", ondelete="CASCADE")
    position: int
    delay_minutes: int = 30


class EscalationStepTarget(SQLModel, table=True):
    """Who a step pages. Polymorphic (no foreign key): code deleting a user, schedule or team removes its rows
    (use the (target_type, target_id) index) and dispatch skips targets that no longer exist."""

    __tablename__ = "escalation_step_targets"
    __table_args__ = (
        sa.UniqueConstraint("step_id", "target_type", "target_id"),
        sa.Index("ix_escalation_step_targets_target", "target_type", "target_id"),
        _one_of("target_type", TargetType),
    )

    id: int | None = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="escalation_steps.id", ondelete="CASCADE")
    target_type: str = Field(max_length=16)
    target_id: int
