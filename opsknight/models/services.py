"""Services (what breaks) and their inbound integrations (how alerts arrive)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsknight.models._base import DIGEST_LEN, JSONType, _now, _one_of


class Urgency(StrEnum):
    HIGH = "high"
    LOW = "low"


class SourceType(StrEnum):
    PROMETHEUS = "prometheus"  # Alertmanager webhook
    GRAFANA = "grafana"
    DATADOG = "datadog"
    EVENTS_V2 = "events_v2"  # PagerDuty Events API v2 compatible
    GENERIC = "generic"
    HEARTBEAT = "heartbeat"  # triggers when pings stop arriving


class Service(SQLModel, table=True):
    """Something that breaks. Incidents belong to a service; its escalation policy decides who is paged.

    Maintenance: alerts are recorded but nobody is paged while ``maintenance_start`` (None = already started)
    <= now < ``maintenance_until``.
    """

    __tablename__ = "services"
    __table_args__ = (
        _one_of("default_urgency", Urgency),
        sa.CheckConstraint(
            "maintenance_start IS NULL OR maintenance_until IS NULL OR maintenance_until > maintenance_start",
            name="maintenance_window",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    description: str = Field(default="", sa_type=sa.Text)
    team_id: int | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL", index=True)
    # RESTRICT: deleting a policy in use would leave a service that pages nobody.
    escalation_policy_id: int | None = Field(
        default=None, foreign_key="escalation_policies.id", ondelete="RESTRICT", index=True
    )
    default_urgency: str = Field(default=Urgency.HIGH, max_length=8)
    urgency_from_severity: bool = True  # alert severity (critical/error -> high, else low) beats the default
    maintenance_start: datetime | None = None
    maintenance_until: datetime | None = None
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime | None = None


class Integration(SQLModel, table=True):
    """An inbound endpoint of a service, authenticated by its token (only the SHA-256 digest is stored).

    ``hmac_secret`` is kept in clear because verifying a signature needs it. ``options`` holds per-source
    settings, e.g. ``{"group_by": "fingerprint" | "group_key"}`` for Alertmanager.
    """

    __tablename__ = "integrations"
    __table_args__ = (
        _one_of("source_type", SourceType),
        sa.CheckConstraint(
            "heartbeat_interval_seconds IS NULL OR heartbeat_interval_seconds > 0", name="heartbeat_interval_positive"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="services.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=100)
    source_type: str = Field(max_length=32)
    token_digest: str = Field(max_length=DIGEST_LEN, unique=True)
    token_prefix: str = Field(max_length=32)
    hmac_secret: str | None = Field(default=None, max_length=255)
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    heartbeat_interval_seconds: int | None = None
    last_heartbeat_at: datetime | None = None
    created_at: datetime = Field(default_factory=_now)
    last_used_at: datetime | None = None
