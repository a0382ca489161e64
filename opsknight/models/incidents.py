"""Incidents and what hangs off them: alerts, the timeline, notes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsknight.models._base import KEY_LEN, TITLE_LEN, JSONType, _now, _one_of
from opsknight.models.services import Urgency


class IncidentStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertAction(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class TimelineKind(StrEnum):
    """Known timeline event kinds. Not a CHECK: new kinds must not need a migration."""

    TRIGGERED = "triggered"
    ALERT = "alert"
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    REASSIGNED = "reassigned"
    NOTIFIED = "notified"
    DELIVERY_FAILED = "delivery_failed"
    NOTE = "note"
    NOBODY_ON_CALL = "nobody_on_call"
    MAINTENANCE = "maintenance"
    POLICY_APPLIED = "policy_applied"
    URGENCY_CHANGED = "urgency_changed"
    RESPONDERS_ADDED = "responders_added"
    MERGED = "merged"
    STATUS_UPDATE = "status_update"  # a public update for the status page


class Incident(SQLModel, table=True):
    """Something a human must look at. ``created_at`` is the trigger time.

    Dedup: at most one *open* (not resolved) incident per (service, dedup_key), enforced by the partial unique
    index ``uq_incidents_open_dedup``; two racing ingests make the loser fail with IntegrityError, and it retries
    (and then finds the winner's incident).

    ``number`` is the global human-facing number (#42). The ingest transaction assigns
    ``SELECT coalesce(max(number), 0) + 1 FROM incidents``; a concurrent ingest that picked the same number gets
    an IntegrityError on ``uq_incidents_number`` and retries, exactly like the dedup race.

    Escalation state: ``escalation_policy_snapshot`` freezes the policy at trigger time; ``escalation_step`` and
    ``escalation_repeat`` say where we are; ``escalation_generation`` increments whenever escalation restarts
    (e.g. un-acknowledge, re-assign) so stale jobs and delivery keys from an older generation are ignored;
    ``next_escalation_at`` is when the escalate job is due (None: nothing due).
    """

    __tablename__ = "incidents"
    __table_args__ = (
        _one_of("status", IncidentStatus),
        _one_of("urgency", Urgency),
        sa.CheckConstraint("alert_count >= 0", name="alert_count_nonnegative"),
        sa.Index(
            "uq_incidents_open_dedup",
            "service_id",
            "dedup_key",
            unique=True,
            postgresql_where=sa.text("status <> 'resolved'"),
            sqlite_where=sa.text("status <> 'resolved'"),
        ),
        sa.Index(  # the reconciler's "timers past due" query (escalations and snoozes; resolve clears the timer)
            "ix_incidents_due_escalation",
            "next_escalation_at",
            postgresql_where=sa.text("next_escalation_at IS NOT NULL"),
            sqlite_where=sa.text("next_escalation_at IS NOT NULL"),
        ),
        sa.Index("ix_incidents_status_created_at", "status", "created_at"),  # dashboard feed
        sa.Index("ix_incidents_service_created_at", "service_id", "created_at"),  # a service's history
        sa.Index("ix_incidents_created_at", "created_at"),  # analytics over a window
        sa.Index(  # ingest: the key of a merged incident leads to the incident it was merged into
            "ix_incidents_merged_dedup",
            "service_id",
            "dedup_key",
            postgresql_where=sa.text("merged_into_id IS NOT NULL"),
            sqlite_where=sa.text("merged_into_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    title: str = Field(max_length=TITLE_LEN)
    description: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(default=IncidentStatus.TRIGGERED, max_length=16)
    urgency: str = Field(default=Urgency.HIGH, max_length=8)
    dedup_key: str = Field(max_length=KEY_LEN)
    # RESTRICT: deleting a service must not erase its incident history.
    service_id: int = Field(foreign_key="services.id", ondelete="RESTRICT")
    assignee_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", index=True)
    alert_count: int = 1
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime | None = None
    last_alert_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    acknowledged_via: str | None = Field(default=None, max_length=32)  # "web", "slack", "sms", "push", "api", ...
    resolved_at: datetime | None = None
    resolved_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    resolved_by_source: str | None = Field(default=None, max_length=64)  # e.g. "prometheus" when auto-resolved
    snoozed_until: datetime | None = None
    escalation_policy_snapshot: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    escalation_step: int = 0
    escalation_generation: int = 0
    escalation_repeat: int = 0
    next_escalation_at: datetime | None = None
    # Set when this incident was merged into another: its alerts moved there and it was resolved.
    merged_into_id: int | None = Field(default=None, foreign_key="incidents.id", ondelete="SET NULL")
    # The name the public status page gives it (None: one made from the affected components). The internal
    # title comes from alerts and may say things the public must not read.
    public_title: str | None = Field(default=None, max_length=200)


class Alert(SQLModel, table=True):
    """One inbound event attached to an incident. ``payload`` is the normalized alert; ``raw`` the size-capped
    original body (None when too large or not kept)."""

    __tablename__ = "alerts"
    __table_args__ = (
        _one_of("action", AlertAction),
        sa.Index("ix_alerts_incident_received_at", "incident_id", "received_at"),
        sa.Index("ix_alerts_received_at", "received_at"),  # analytics: the noisiest sources over a window
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    integration_id: int | None = Field(default=None, foreign_key="integrations.id", ondelete="SET NULL", index=True)
    source: str = Field(max_length=64)
    action: str = Field(max_length=16)
    dedup_key: str = Field(max_length=KEY_LEN)
    summary: str = Field(max_length=TITLE_LEN)
    severity: str | None = Field(default=None, max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    raw: Any | None = Field(default=None, sa_type=JSONType)
    received_at: datetime


class TimelineEvent(SQLModel, table=True):
    """What happened to an incident, in order. ``kind`` is a ``TimelineKind`` value."""

    __tablename__ = "timeline_events"
    __table_args__ = (sa.Index("ix_timeline_events_incident_at", "incident_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    kind: str = Field(max_length=32)
    at: datetime
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    source: str | None = Field(default=None, max_length=64)
    message: str = Field(default="", sa_type=sa.Text)
    data: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class Note(SQLModel, table=True):
    __tablename__ = "notes"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE", index=True)
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")  # None: user deleted
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=_now)
