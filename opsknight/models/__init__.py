"""The whole OpsKnight domain as SQLModel tables: ``from opsknight.models import User, Incident, ...``.

One module per domain (people, escalation, services, schedules, incidents, notifications, system); this package
re-exports every table and enumeration, and importing it registers all tables on ``SQLModel.metadata``.

Conventions every table follows (and other modules may rely on):

* Integer autoincrement ``id`` primary keys; plural snake_case table names (``audit_log`` and ``app_kv`` aside).
* Every datetime column is SQLModel's ``UTCDateTime`` (chosen automatically for ``datetime`` fields): writing a
  naive datetime raises ``ValueError`` (wrapped in SQLAlchemy's ``StatementError`` at flush); values come back as
  aware UTC datetimes on PostgreSQL *and* SQLite. Callers pass timestamps from ``engine.clock``; only
  ``created_at`` defaults to the wall clock.
* Enumerations are short strings guarded by a named CHECK constraint (``ck_<table>_<column>``); the allowed values
  are ``StrEnum`` classes, so code writes ``Role.ADMIN`` rather than ``"admin"``. Fields are typed ``str``: rows
  read back hold plain strings, which compare equal to the enum members.
* JSON columns (``JSONType``) are JSONB on PostgreSQL and JSON elsewhere; Python ``None`` is stored as SQL NULL.
  In-place mutation of a JSON value is not tracked: assign a new dict/list.
* No ORM relationships: children are fetched with explicit ``select()``s and removed by the database's
  ``ON DELETE`` rules (CASCADE for owned children, SET NULL for optional references, RESTRICT where deleting
  would silently change who gets paged or lose history). SQLite enforces them only with
  ``PRAGMA foreign_keys=ON``, which ``opsknight.db.make_engine`` sets.
* Constraint and index names come from the naming convention in ``_base``, identical on both backends.
"""

from sqlmodel import UTCDateTime

from opsknight.models._base import JSONType
from opsknight.models.escalation import EscalationPolicy, EscalationStep, EscalationStepTarget, TargetType
from opsknight.models.incidents import Alert, AlertAction, Incident, IncidentStatus, Note, TimelineEvent, TimelineKind
from opsknight.models.notifications import (
    Channel,
    ContactMethod,
    Delivery,
    DeliveryStatus,
    NotificationRule,
    RuleUrgency,
)
from opsknight.models.people import (
    ApiKey,
    ApiScope,
    Role,
    Team,
    TeamMembership,
    TeamRole,
    User,
    UserSession,
    UserStatus,
)
from opsknight.models.schedules import RotationUnit, Schedule, ScheduleLayer, ScheduleLayerMember, ScheduleOverride
from opsknight.models.services import Integration, Service, SourceType, Urgency
from opsknight.models.system import (
    AppKV,
    AuditLog,
    ComponentStatus,
    OutboxJob,
    PublicStatus,
    StatusPageComponent,
    StatusPageComponentService,
    StatusUpdate,
)

__all__ = [
    "UTCDateTime",
    "JSONType",
    # people
    "Role", "UserStatus", "ApiScope", "TeamRole", "User", "UserSession", "ApiKey", "Team", "TeamMembership",
    # escalation
    "TargetType", "EscalationPolicy", "EscalationStep", "EscalationStepTarget",
    # services
    "Urgency", "SourceType", "Service", "Integration",
    # schedules
    "RotationUnit", "Schedule", "ScheduleLayer", "ScheduleLayerMember", "ScheduleOverride",
    # incidents
    "IncidentStatus", "AlertAction", "TimelineKind", "Incident", "Alert", "TimelineEvent", "Note",
    # notifications
    "Channel", "RuleUrgency", "DeliveryStatus", "ContactMethod", "NotificationRule", "Delivery",
    # system
    "ComponentStatus", "PublicStatus", "OutboxJob", "AuditLog", "StatusPageComponent", "StatusPageComponentService",
    "StatusUpdate", "AppKV",
]  # fmt: skip
