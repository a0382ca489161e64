"""Durable work (outbox), the audit log, the status page and small generated settings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsknight.models._base import JSONType, _now, _one_of


class ComponentStatus(StrEnum):
    """A status page component's state, worst last; the values are Atlassian Statuspage's."""

    OPERATIONAL = "operational"
    UNDER_MAINTENANCE = "under_maintenance"
    DEGRADED = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"


class PublicStatus(StrEnum):
    """The stage a public status update announces (Statuspage's incident statuses)."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class OutboxJob(SQLModel, table=True):
    """Work written in the same transaction as the change that needs it, then enqueued on RQ. The reconciler
    re-enqueues rows with ``processed_at IS NULL AND available_at <= now`` (partial index), so Redis loss only
    delays work."""

    __tablename__ = "outbox_jobs"
    __table_args__ = (
        sa.Index(
            "ix_outbox_jobs_pending",
            "available_at",
            postgresql_where=sa.text("processed_at IS NULL"),
            sqlite_where=sa.text("processed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)  # e.g. "process_incident"
    incident_id: int | None = Field(default=None, foreign_key="incidents.id", ondelete="CASCADE", index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(default_factory=_now)
    available_at: datetime
    processed_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)


class AuditLog(SQLModel, table=True):
    """Who changed what. ``changes`` is {"field": [old, new]} or the created/deleted values. Kept when the actor
    is deleted (SET NULL)."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    actor_api_key_id: int | None = Field(default=None, foreign_key="api_keys.id", ondelete="SET NULL")
    action: str = Field(max_length=64)  # "<entity>.<verb>", e.g. "service.create"
    entity_type: str = Field(max_length=64)
    entity_id: str = Field(max_length=64)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    ip: str | None = Field(default=None, max_length=64)


class StatusPageComponent(SQLModel, table=True):
    """A part of the product the public status page shows. Its state is derived from the open incidents of the
    services linked to it (``engine.status_page``) unless ``manual_status`` overrides it."""

    __tablename__ = "status_page_components"
    __table_args__ = (_one_of("manual_status", ComponentStatus),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    description: str = Field(default="", sa_type=sa.Text)
    position: int = 0
    manual_status: str | None = Field(default=None, max_length=32)  # None: derived from incidents
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime | None = None


class StatusPageComponentService(SQLModel, table=True):
    """Which services' incidents a component reflects."""

    __tablename__ = "component_services"

    component_id: int = Field(foreign_key="status_page_components.id", ondelete="CASCADE", primary_key=True)
    service_id: int = Field(foreign_key="services.id", ondelete="CASCADE", primary_key=True, index=True)


class StatusUpdate(SQLModel, table=True):
    """A public update on an incident, shown on the status page; internal notes never are."""

    __tablename__ = "status_updates"
    __table_args__ = (
        _one_of("status", PublicStatus),
        sa.Index("ix_status_updates_incident_created_at", "incident_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    status: str = Field(max_length=16)
    body: str = Field(sa_type=sa.Text)
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=_now)


class AppKV(SQLModel, table=True):
    """Small generated settings that must survive restarts and be shared by processes (e.g. VAPID keys)."""

    __tablename__ = "app_kv"

    key: str = Field(primary_key=True, max_length=128)
    value: str = Field(sa_type=sa.Text)
