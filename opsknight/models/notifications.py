"""How people are reached: contact methods, notification rules, and the deliveries actually made."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsknight.models._base import KEY_LEN, JSONType, _now, _one_of


class Channel(StrEnum):
    """A contact method's kind and a delivery's channel."""

    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    SLACK = "slack"
    PUSH = "push"


class RuleUrgency(StrEnum):
    """A notification rule applies to high-urgency, low-urgency or any incident."""

    HIGH = "high"
    LOW = "low"
    ANY = "any"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # row written, not yet handed to the provider
    SENDING = "sending"  # a worker claimed it; a crash here is retried by the reconciler
    SENT = "sent"
    FAILED = "failed"  # gave up after retries
    SUPPRESSED = "suppressed"  # deliberately not sent (quiet hours, disabled method, maintenance)


class ContactMethod(SQLModel, table=True):
    """Where a user can be reached. ``address``: email, E.164 phone (sms/whatsapp), Slack user id, or the push
    endpoint URL (long, hence Text) with its keys in ``push_subscription`` ({"p256dh": ..., "auth": ...})."""

    __tablename__ = "contact_methods"
    __table_args__ = (sa.UniqueConstraint("user_id", "kind", "address"), _one_of("kind", Channel))

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    label: str = Field(default="", max_length=100)
    address: str = Field(sa_type=sa.Text)
    push_subscription: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    verified: bool = False
    enabled: bool = True
    created_at: datetime = Field(default_factory=_now)


class NotificationRule(SQLModel, table=True):
    """Page ``contact_method_id`` ``delay_minutes`` after the user is first paged, for matching urgencies."""

    __tablename__ = "notification_rules"
    __table_args__ = (
        sa.UniqueConstraint(  # the same rule twice would page twice
            "user_id", "contact_method_id", "urgency", "delay_minutes", name="uq_notification_rules_rule"
        ),
        _one_of("urgency", RuleUrgency),
        sa.CheckConstraint("delay_minutes >= 0", name="delay_minutes_nonnegative"),
        sa.CheckConstraint("fallthrough_seconds IS NULL OR fallthrough_seconds BETWEEN 5 AND 3600",
                           name="fallthrough_seconds_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    contact_method_id: int = Field(foreign_key="contact_methods.id", ondelete="CASCADE", index=True)
    urgency: str = Field(default=RuleUrgency.ANY, max_length=8)
    delay_minutes: int = 0
    # Web push only: when the device has not shown the notification within this many seconds (asleep, offline,
    # Do Not Disturb), the user's next rule for this page runs at once instead of after its delay.
    fallthrough_seconds: int | None = None
    created_at: datetime = Field(default_factory=_now)


class Delivery(SQLModel, table=True):
    """One message to one person on one channel. ``idempotency_key`` (unique) is built by dispatch from
    (incident, escalation generation, step, repeat, user, channel/rule) so a re-run job never pages twice."""

    __tablename__ = "deliveries"
    __table_args__ = (
        _one_of("channel", Channel),
        _one_of("status", DeliveryStatus),
        sa.CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        sa.Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),  # retry sweep
        sa.Index("ix_deliveries_incident_created_at", "incident_id", "created_at"),
        sa.Index("ix_deliveries_sent_at", "sent_at"),  # analytics: pages per person over a window
        # Pacing and bundling look up what was recently sent to (and is waiting for) one destination.
        sa.Index("ix_deliveries_destination", "channel", "target", "sent_at"),
        sa.Index("ix_deliveries_shown_by", "shown_by", postgresql_where=sa.text("shown_by IS NOT NULL"),
                 sqlite_where=sa.text("shown_by IS NOT NULL")),  # the reconciler's "push shown in time?" sweep
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", index=True)
    contact_method_id: int | None = Field(
        default=None, foreign_key="contact_methods.id", ondelete="SET NULL", index=True
    )
    channel: str = Field(max_length=16)
    target: str = Field(sa_type=sa.Text)  # the address used, kept even if the contact method changes
    status: str = Field(default=DeliveryStatus.PENDING, max_length=16)
    provider_id: str | None = Field(default=None, max_length=255, index=True)  # Twilio SID, Slack ts, ...
    attempts: int = 0
    error: str | None = Field(default=None, sa_type=sa.Text)
    idempotency_key: str = Field(max_length=KEY_LEN, unique=True)
    escalation_generation: int = 0
    escalation_step: int = 0
    created_at: datetime = Field(default_factory=_now)
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    # Set while this page rides inside another one's message (pacing): if that carrier is lost with its worker,
    # its claim is redone and the pages bundled into it go back to waiting.
    bundled_into_id: int | None = Field(default=None, foreign_key="deliveries.id", ondelete="SET NULL", index=True)
    # A responder request ("add responder"): someone asked this person to help. It goes out while the incident is
    # open, acknowledged or not, and whatever escalation generation it is in; an escalation page is dropped once
    # the incident is acknowledged or its escalation restarts.
    responder_request: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # The rule that planned this page (None: the defaults for a user without rules).
    notification_rule_id: int | None = Field(default=None, foreign_key="notification_rules.id", ondelete="SET NULL")
    # Web push receipts, reported by the service worker: when the device showed the notification, and when the
    # person tapped it or one of its buttons.
    displayed_at: datetime | None = None
    acted_at: datetime | None = None
    # A sent push whose rule wants it shown in time: when it must have been (then the next rule runs at once).
    # Cleared once it was shown or the check ran; the reconciler runs checks whose job was lost.
    shown_by: datetime | None = None
