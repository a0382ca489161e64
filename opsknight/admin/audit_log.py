"""Reading the audit log: newest first, filtered by actor, entity, action and time, in cursor pages. Admins only."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlmodel import Session, select

from opsknight.accounts import Principal
from opsknight.admin import authorize, parse
from opsknight.admin.fields import Id
from opsknight.models import AuditLog, User
from opsknight.permissions import Permission

# Actions and entity types are code-made identifiers ("escalation_policy.update"): anything else matches nothing.
_IDENTIFIER = r"^[a-z0-9_.]+$"


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor_user_id: Id | None = None
    entity_type: str | None = Field(default=None, max_length=64, pattern=_IDENTIFIER)
    entity_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    action: str | None = Field(default=None, max_length=64, pattern=_IDENTIFIER)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Id | None = None

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        try:
            return value.astimezone(UTC) if value else value
        except OverflowError:  # year 1 at +14:00 has no UTC instant Python can hold
            raise PydanticCustomError("datetime_range", "is out of range") from None


def query(db: Session, actor: Principal | None, filters: dict | BaseModel) -> tuple[list[dict], int | None]:
    """One page of entries, newest first (by id: the order they were written), and the cursor of the next."""
    authorize(actor, Permission.READ_AUDIT)
    f = parse(AuditQuery, filters)
    stmt = select(AuditLog, User.name, User.email).join(User, User.id == AuditLog.actor_user_id, isouter=True)
    conditions = [
        (f.actor_user_id, lambda v: AuditLog.actor_user_id == v),
        (f.entity_type, lambda v: AuditLog.entity_type == v),
        (f.entity_id, lambda v: AuditLog.entity_id == v),
        (f.action, lambda v: AuditLog.action == v),
        (f.since, lambda v: AuditLog.at >= v),
        (f.until, lambda v: AuditLog.at < v),
        (f.cursor, lambda v: AuditLog.id < v),
    ]
    for value, condition in conditions:
        if value is not None:
            stmt = stmt.where(condition(value))
    rows = db.exec(stmt.order_by(AuditLog.id.desc()).limit(f.limit + 1)).all()
    page = rows[:f.limit]
    return [_entry(*row) for row in page], (page[-1][0].id if len(rows) > f.limit else None)


def _entry(entry: AuditLog, name: str | None, email: str | None) -> dict:
    return {"id": entry.id, "at": entry.at.isoformat(), "action": entry.action, "entity_type": entry.entity_type,
            "entity_id": entry.entity_id, "changes": entry.changes, "ip": entry.ip,
            "actor": {"user_id": entry.actor_user_id, "name": name, "email": email,
                      "api_key_id": entry.actor_api_key_id}}



def filter_choices(db: Session, actor: Principal | None) -> dict:
    """Who may appear as an actor, and the entity types the log holds, for the page's filter pickers."""
    authorize(actor, Permission.READ_AUDIT)
    users = db.exec(select(User.id, User.name, User.email).order_by(User.name, User.id).limit(1000)).all()
    types = db.exec(select(AuditLog.entity_type).distinct().order_by(AuditLog.entity_type).limit(100)).all()
    return {"actors": [{"user_id": i, "name": name, "email": email} for i, name, email in users],
            "entity_types": list(types)}
