"""Users administration: list, look up, invite (with or without a first password), edit, disable and enable.

Disabling is how someone leaves: they can no longer sign in, their sessions and API keys end in the same
transaction, and dispatch never pages them (it pages only active users). Rows are never deleted, so incidents,
deliveries and the audit log keep saying who did what. At least one active admin always remains.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlalchemy import func, or_
from sqlmodel import Session, select

from opsknight import accounts, security
from opsknight.accounts import Principal
from opsknight.admin import Conflict, Invalid, NotFound, audit, authorize, parse
from opsknight.admin.fields import Input, PersonName, QuietHours, TimeZone
from opsknight.engine import acks, clock
from opsknight.models import Role, User, UserStatus
from opsknight.permissions import Permission

MAX_ID = 2**31 - 1
RoleName = Literal["admin", "responder", "viewer"]


class UserCreate(Input):
    email: str = Field(min_length=3, max_length=254)
    name: PersonName
    role: RoleName = "responder"
    time_zone: TimeZone = "UTC"
    password: str | None = Field(default=None, min_length=security.MIN_PASSWORD_LENGTH,
                                 max_length=security.MAX_PASSWORD_BYTES,
                                 description="optional: without one the user is paged but cannot sign in yet")


class UserUpdate(Input):
    name: PersonName | None = None
    role: RoleName | None = None
    time_zone: TimeZone | None = None
    quiet_hours: QuietHours | None = Field(default=None, description="null turns quiet hours off")
    status: Literal["active", "disabled"] | None = None
    password: str | None = Field(default=None, min_length=security.MIN_PASSWORD_LENGTH,
                                 max_length=security.MAX_PASSWORD_BYTES,
                                 description="set a new password; ends the user's sessions")


def user_json(user: User) -> dict:
    """A user as the API and pages show it: never the password hash or the iCal digest."""
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role, "status": user.status,
            "time_zone": user.time_zone, "quiet_hours": user.quiet_hours, "can_sign_in": bool(user.password_hash),
            "created_at": user.created_at.isoformat(),
            "updated_at": user.updated_at.isoformat() if user.updated_at else None}


def _view(user: User) -> dict:
    return {"email": user.email, "name": user.name, "role": user.role, "status": user.status,
            "time_zone": user.time_zone, "quiet_hours": user.quiet_hours}


def load(db: Session, user_id: int) -> User:
    user = db.get(User, user_id) if 1 <= user_id <= MAX_ID else None
    if user is None:
        raise NotFound(f"No user {user_id}")
    return user


def list_users(db: Session, actor: Principal | None, *, status: str | None = None, role: str | None = None,
               query: str = "", limit: int = 100, cursor: int | None = None) -> tuple[list[User], int | None]:
    """Users by id, `limit` at a time; returns (page, next cursor)."""
    authorize(actor, Permission.READ)
    stmt = select(User)
    if status:
        stmt = stmt.where(User.status == status)
    if role:
        stmt = stmt.where(User.role == role)
    if query.strip():
        like = "%" + query.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(func.lower(User.name).like(like, escape="\\"), User.email.like(like, escape="\\")))
    if cursor is not None:
        stmt = stmt.where(User.id > cursor)
    rows = list(db.exec(stmt.order_by(User.id).limit(limit + 1)))
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)


def get_user(db: Session, actor: Principal | None, user_id: int) -> User:
    authorize(actor, Permission.READ)
    return load(db, user_id)


def create_user(db: Session, actor: Principal | None, data: dict | UserCreate) -> User:
    body = parse(UserCreate, data)
    authorize(actor, Permission.CONFIGURE)
    try:
        email = accounts.normalize_email(body.email)
    except accounts.AccountError:
        raise Invalid("email: not a valid email address", ["email: not a valid email address"]) from None
    if db.exec(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict(f"A user with email {email} already exists", ["email: already taken"])
    try:
        user = accounts.create_user(db, email=email, name=body.name, role=body.role, password=body.password or None,
                                    time_zone=body.time_zone)
    except accounts.AccountError as exc:
        raise Invalid(str(exc)) from None
    audit.record(db, actor, "user.create", "user", user.id,
                 {**_view(user), "password": "set" if body.password else "none"})
    return user


def _lock_active_admins(db: Session) -> list[int]:
    """Lock the active admins' rows, in id order, before any other user row: two admins demoting each other at
    once must not both see the other remain, nor deadlock."""
    return list(db.exec(select(User.id).where(User.role == Role.ADMIN, User.status == UserStatus.ACTIVE)
                        .order_by(User.id).with_for_update()).all())


def update_user(db: Session, actor: Principal | None, user_id: int, data: dict | UserUpdate) -> User:
    """Change any of name, role, time zone, quiet hours, status, password (only the fields sent)."""
    body = parse(UserUpdate, data)
    actor = authorize(actor, Permission.CONFIGURE)
    admins = _lock_active_admins(db)
    locked = select(User).where(User.id == user_id).with_for_update()
    user = db.exec(locked).first() if 1 <= user_id <= MAX_ID else None
    if user is None:
        raise NotFound(f"No user {user_id}")
    sent = body.model_fields_set
    before = _view(user)
    if "name" in sent and body.name is not None:
        user.name = body.name
    if "time_zone" in sent and body.time_zone is not None:
        user.time_zone = body.time_zone
    if "quiet_hours" in sent:
        user.quiet_hours = body.quiet_hours.model_dump() if body.quiet_hours else None
    losing_admin = user.role == Role.ADMIN and user.status == UserStatus.ACTIVE and (
        ("role" in sent and body.role not in (None, Role.ADMIN)) or body.status == UserStatus.DISABLED)
    if losing_admin and not [i for i in admins if i != user.id]:
        raise Conflict("At least one active admin must remain: make someone else an admin first")
    if "role" in sent and body.role is not None:
        user.role = body.role
    ended = {}
    if body.status == UserStatus.DISABLED and user.status != UserStatus.DISABLED:
        if user.id == actor.user_id:
            raise Conflict("You cannot disable your own account")
        user.status = UserStatus.DISABLED
        # Ended now, not merely refused while disabled: enabling the user later must not bring them back.
        ended = {"sessions_ended": accounts.revoke_all_sessions(db, user.id),
                 "api_keys_revoked": accounts.revoke_all_api_keys(db, user.id),
                 "ack_links_revoked": acks.revoke_links_of(db, user.id, clock.now())}
    elif body.status == UserStatus.ACTIVE:
        user.status = UserStatus.ACTIVE
    if body.password:
        try:
            user.password_hash = security.hash_password(body.password)
        except security.PasswordPolicyError as exc:
            raise Invalid(f"password: {exc}", [f"password: {exc}"]) from None
        ended["sessions_ended"] = ended.get("sessions_ended", 0) + accounts.revoke_all_sessions(db, user.id)
    user.updated_at = clock.now()
    db.add(user)
    db.flush()
    changes = audit.changes_between(before, _view(user))
    if body.password:
        changes["password"] = ["***", "***"]
    action = "user.update"
    if before["status"] != user.status:
        action = "user.disable" if user.status == UserStatus.DISABLED else "user.enable"
    audit.record(db, actor, action, "user", user.id, {**changes, **ended})
    return user


def disable_user(db: Session, actor: Principal | None, user_id: int) -> User:
    return update_user(db, actor, user_id, {"status": UserStatus.DISABLED})


def enable_user(db: Session, actor: Principal | None, user_id: int) -> User:
    return update_user(db, actor, user_id, {"status": UserStatus.ACTIVE})
