"""The signed-in user's own account: name, time zone and quiet hours, password, sessions, personal API keys, and
test messages to their contact methods (the contact methods and rules themselves are in `admin.contacts`).

Security events are audited like admin changes: password changes, sessions ended, keys created and revoked.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlmodel import Session, select

from opsknight import accounts, security
from opsknight.accounts import Principal
from opsknight.admin import AdminError, Invalid, NotFound, audit, authorize, parse, signin, throttle
from opsknight.admin.contacts import MAX_ID, authorize_for
from opsknight.admin.fields import Input, PersonName, QuietHours, TimeZone
from opsknight.admin.users import load
from opsknight.config import settings
from opsknight.db import session_scope
from opsknight.engine import channel_check, clock
from opsknight.models import ApiKey, ContactMethod, User, UserSession
from opsknight.permissions import Permission


class ProfileUpdate(Input):
    name: PersonName | None = None
    time_zone: TimeZone | None = None
    quiet_hours: QuietHours | None = Field(default=None, description="null turns quiet hours off")


class PasswordChange(Input):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=security.MIN_PASSWORD_LENGTH, max_length=security.MAX_PASSWORD_BYTES)


class ApiKeyCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Literal["read", "write"]] = Field(default=["read"], min_length=1, max_length=2)


class DeliveryFailed(AdminError):
    status, code = 409, "delivery_failed"


class TooManyTests(AdminError):
    status, code = 429, "too_many_requests"


def _self_view(user: User) -> dict:
    return {"name": user.name, "time_zone": user.time_zone, "quiet_hours": user.quiet_hours}


def me(db: Session, actor: Principal | None) -> User:
    actor = authorize(actor, Permission.READ)
    return load(db, actor.user_id)


def update_profile(db: Session, actor: Principal | None, data: dict | ProfileUpdate) -> User:
    body = parse(ProfileUpdate, data)
    actor = authorize(actor, Permission.OWN_PROFILE)
    user = load(db, actor.user_id)
    before = _self_view(user)
    sent = body.model_fields_set
    if body.name is not None:
        user.name = body.name
    if body.time_zone is not None:
        user.time_zone = body.time_zone
    if "quiet_hours" in sent:
        user.quiet_hours = body.quiet_hours.model_dump() if body.quiet_hours else None
    user.updated_at = clock.now()
    db.add(user)
    audit.record(db, actor, "user.update", "user", user.id, audit.changes_between(before, _self_view(user)))
    return user


def change_password(db: Session, actor: Principal | None, data: dict | PasswordChange, *,
                    current_token: str = "") -> int:
    """Check the current password, store the new one, end every other session; returns how many ended.

    Wrong current passwords count against the account's sign-in throttle: a stolen session must not become a
    way to guess the password without limit.
    """
    body = parse(PasswordChange, data)
    actor = authorize(actor, Permission.OWN_ACCOUNT)
    user = load(db, actor.user_id)
    attempt = signin.begin(user.email, "")
    if attempt.wait_seconds:
        raise Invalid(throttle.refusal_message(attempt.wait_seconds), ["current_password: too many attempts"])
    if not security.verify_password(body.current_password, user.password_hash):
        raise Invalid("current_password: wrong password", ["current_password: wrong password"])
    signin.succeeded(attempt)
    try:
        user.password_hash = security.hash_password(body.new_password)
    except security.PasswordPolicyError as exc:
        raise Invalid(f"new_password: {exc}", [f"new_password: {exc}"]) from None
    user.updated_at = clock.now()
    db.add(user)
    ended = accounts.revoke_all_sessions(db, user.id, keep_token=current_token)
    audit.record(db, actor, "user.password_change", "user", user.id,
                 {"password": "changed", "other_sessions_ended": ended})
    return ended


# --- sessions ------------------------------------------------------------------------------------------------


def session_json(row: UserSession, current_token: str = "") -> dict:
    return {"id": row.id, "created_at": row.created_at.isoformat(),
            "last_seen_at": row.last_seen_at.isoformat() if row.last_seen_at else None,
            "expires_at": row.expires_at.isoformat(), "ip": row.ip or "", "user_agent": row.user_agent or "",
            "current": bool(current_token) and security.digests_match(row.token_digest, current_token)}


def list_sessions(db: Session, actor: Principal | None) -> list[UserSession]:
    """The user's live sessions, most recently used first."""
    actor = authorize(actor, Permission.OWN_ACCOUNT)
    return list(db.exec(select(UserSession).where(
        UserSession.user_id == actor.user_id, UserSession.revoked_at.is_(None), UserSession.expires_at > clock.now(),
    ).order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def end_session(db: Session, actor: Principal | None, session_id: int) -> None:
    actor = authorize(actor, Permission.OWN_ACCOUNT)
    row = db.get(UserSession, session_id) if 1 <= session_id <= MAX_ID else None
    if row is None or row.user_id != actor.user_id or row.revoked_at is not None:
        raise NotFound(f"No active session {session_id}")
    row.revoked_at = clock.now()
    db.add(row)
    audit.record(db, actor, "session.end", "user", actor.user_id, {"session_id": row.id})


def sign_out_everywhere(db: Session, actor: Principal | None) -> int:
    """End every session of the user, this one included."""
    actor = authorize(actor, Permission.OWN_ACCOUNT)
    ended = accounts.revoke_all_sessions(db, actor.user_id)
    audit.record(db, actor, "user.sign_out_everywhere", "user", actor.user_id, {"sessions_ended": ended})
    return ended


# --- personal API keys -----------------------------------------------------------------------------------------


def api_key_json(row: ApiKey) -> dict:
    """A key as lists show it: its prefix, never the key or its digest."""
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "scopes": list(row.scopes or []),
            "created_at": row.created_at.isoformat(),
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None}


def list_api_keys(db: Session, actor: Principal | None) -> list[ApiKey]:
    actor = authorize(actor, Permission.READ)
    return list(db.exec(select(ApiKey).where(ApiKey.user_id == actor.user_id, ApiKey.revoked_at.is_(None))
                        .order_by(ApiKey.id)))


def create_api_key(db: Session, actor: Principal | None, data: dict | ApiKeyCreate) -> tuple[str, ApiKey]:
    """A new key acting as the user; returns (the key, shown this once; its row)."""
    body = parse(ApiKeyCreate, data)
    actor = authorize(actor, Permission.OWN_PROFILE)
    scopes = tuple(s for s in accounts.API_KEY_SCOPES if s in body.scopes)
    try:
        key, row = accounts.create_api_key(db, load(db, actor.user_id), name=body.name, scopes=scopes)
    except accounts.AccountError as exc:
        raise Invalid(str(exc)) from None
    audit.record(db, actor, "api_key.create", "api_key", row.id,
                 {"name": row.name, "prefix": row.prefix, "scopes": list(scopes)})
    return key, row


def revoke_api_key(db: Session, actor: Principal | None, key_id: int) -> None:
    actor = authorize(actor, Permission.OWN_PROFILE)
    row = db.get(ApiKey, key_id) if 1 <= key_id <= MAX_ID else None
    if row is None or row.user_id != actor.user_id or row.revoked_at is not None:
        raise NotFound(f"No active API key {key_id}")
    row.revoked_at = clock.now()
    db.add(row)
    audit.record(db, actor, "api_key.revoke", "api_key", row.id, {"name": row.name, "prefix": row.prefix})


# --- test messages -----------------------------------------------------------------------------------------------


def send_test_message(actor: Principal | None, user_id: int, contact_id: int) -> dict:
    """Send a test message to one of `user_id`'s contact methods now (the user themselves, or an admin).

    Takes no `db`: the contact method is read in a short transaction of its own, and the provider is called after
    it ends, as dispatch does for pages.
    """
    with session_scope() as db:
        authorize_for(actor, user_id)
        contact = db.get(ContactMethod, contact_id) if 1 <= contact_id <= MAX_ID else None
        if contact is None or contact.user_id != user_id:
            raise NotFound(f"No contact method {contact_id} for user {user_id}")
        keys = (contact.push_subscription or {}).get("keys", contact.push_subscription) \
            if contact.kind == "push" else None
        target = channel_check.Target(user_id, contact.kind, contact.address, keys)
    if not channel_check.within_limit(user_id, clock.now().timestamp()):
        raise TooManyTests(f"At most {channel_check.LIMIT} test messages every {channel_check.WINDOW_SECONDS // 60} "
                           "minutes; try again later")
    outcome = channel_check.send(target, settings().base_url)
    if not outcome.sent:
        raise DeliveryFailed(f"The test message was not delivered: {outcome.error}")
    return {"status": "sent", "provider_id": outcome.provider_id}
