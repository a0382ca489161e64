"""Schedules: who is on call. The math lives in opsknight.engine.oncall; these are its inputs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsknight.models._base import DIGEST_LEN, JSONType, _now, _one_of


class RotationUnit(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


class Schedule(SQLModel, table=True):
    """Layers of rotations plus overrides, evaluated in ``time_zone`` so handoffs survive DST."""

    __tablename__ = "schedules"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    description: str = Field(default="", sa_type=sa.Text)
    time_zone: str = Field(default="UTC", max_length=64)  # IANA name
    team_id: int | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL", index=True)
    ical_token_digest: str | None = Field(default=None, max_length=DIGEST_LEN, unique=True)
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime | None = None


class ScheduleLayer(SQLModel, table=True):
    """One rotation. Where layers overlap, the higher ``position`` wins.

    Members take turns in ``rotation_length`` x ``rotation_unit`` shifts starting at ``rotation_start`` (the first
    member's first shift). ``handoff_time`` ("HH:MM", schedule time zone) is the wall-clock time day/week shifts
    change. ``restrictions`` limits the layer to windows such as
    ``{"weekdays": [0, 1, 2, 3, 4], "start": "22:00", "end": "06:00"}`` (Monday = 0); empty = always.
    The layer contributes nothing after ``ends_at``.
    """

    __tablename__ = "schedule_layers"
    __table_args__ = (
        _one_of("rotation_unit", RotationUnit),
        sa.CheckConstraint("rotation_length >= 1", name="rotation_length_positive"),
        sa.CheckConstraint("length(handoff_time) = 5 AND substr(handoff_time, 3, 1) = ':'", name="handoff_time_hhmm"),
        sa.CheckConstraint("ends_at IS NULL OR ends_at > rotation_start", name="ends_after_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedules.id", ondelete="CASCADE", index=True)
    name: str = Field(default="", max_length=100)
    position: int = 0
    rotation_start: datetime
    rotation_unit: str = Field(default=RotationUnit.WEEK, max_length=8)
    rotation_length: int = 1
    handoff_time: str = Field(default="09:00", max_length=5)
    restrictions: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    ends_at: datetime | None = None
    created_at: datetime = Field(default_factory=_now)


class ScheduleLayerMember(SQLModel, table=True):
    """A user's turn in a rotation (a user may appear more than once).

    RESTRICT on the user: deleting someone who is in a rotation must not silently change who is on call;
    take them out of rotations first (or disable the user instead of deleting).
    """

    __tablename__ = "schedule_layer_members"
    __table_args__ = (sa.UniqueConstraint("layer_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    layer_id: int = Field(foreign_key="schedule_layers.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="RESTRICT", index=True)
    position: int


class ScheduleOverride(SQLModel, table=True):
    """``user_id`` is on call instead of ``replaces_user_id`` (or instead of everyone, when None) for a while."""

    __tablename__ = "schedule_overrides"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.Index("ix_schedule_overrides_schedule_range", "schedule_id", "starts_at", "ends_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedules.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="RESTRICT", index=True)  # see ScheduleLayerMember
    # CASCADE: an override "instead of X" means nothing once X is gone; SET NULL would widen it to everyone.
    replaces_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE", index=True)
    starts_at: datetime
    ends_at: datetime
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=_now)
