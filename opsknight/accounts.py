"""Users, sign-in sessions and API keys: the store functions the UI, the API and the CLI share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from opsknight import security
from opsknight.config import Settings
from opsknight.engine import clock
from opsknight.models import ApiKey, Role, User, UserSession, UserStatus

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Touch last_seen/last_used at most this often, so reads don't turn into a write per request.
TOUCH_INTERVAL = timedelta(minutes=1)
API_KEY_SCOPES = ("read", "write")


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; the message is safe to show."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user, through a session or an API key (whose scopes may narrow the user's role)."""

    user_id: int
    email: str
    name: str
    role: str
    scopes: tuple[str, ...] = ("read", "write")
    api_key_id: int | None = None
    time_zone: str = "UTC"  # the user's own, for showing times


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise AccountError(f"Not a valid email address: {email!r}")
    return email


def create_user(
    db: Session, *, email: str, name: str, role: str = Role.RESPONDER, password: str | None = None,
    time_zone: str = "UTC",
) -> User:
    email = normalize_email(email)
    if role not in {r.value for r in Role}:
        raise AccountError(f"Role must be one of {', '.join(r.value for r in Role)}")
    if not name.strip():
        raise AccountError("Name must not be empty")
    if db.exec(select(User).where(User.email == email)).first():
        raise AccountError(f"A user with email {email} already exists")
    try:
        password_hash = security.hash_password(password) if password else None
    except security.PasswordPolicyError as exc:
        raise AccountError(str(exc)) from None
    user = User(email=email, name=name.strip(), role=role, password_hash=password_hash, time_zone=time_zone,
                status=UserStatus.ACTIVE, created_at=clock.now())
    db.add(user)
    db.flush()
    return user


def authenticate(db: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Same cost whether or not the user exists."""
    try:
        email = normalize_email(email)
    except AccountError:
        security.verify_password(password, None)
        return None
    user = db.exec(select(User).where(User.email == email)).first()
    ok = security.verify_password(password, user.password_hash if user else None)
    if not ok or user is None or user.status != UserStatus.ACTIVE:
        return None
    return user


def create_session(db: Session, user: User, *, days: int, ip: str = "", user_agent: str = "") -> str:
    """Start a sign-in session; returns the token (stored only as its digest)."""
    token = security.new_token(security.SESSION_PREFIX)
    now = clock.now()
    db.add(UserSession(user_id=user.id, token_digest=security.token_digest(token), created_at=now,
                       last_seen_at=now, expires_at=now + timedelta(days=days), ip=ip[:64],
                       user_agent=user_agent[:256]))
    db.flush()
    return token


def _active_session(db: Session, token: str) -> UserSession | None:
    if not token or not token.startswith(security.SESSION_PREFIX):
        return None
    row = db.exec(select(UserSession).where(UserSession.token_digest == security.token_digest(token))).first()
    if row is None or not security.digests_match(row.token_digest, token):
        return None
    if row.revoked_at is not None or row.expires_at <= clock.now():
        return None
    return row


def principal_for_session(db: Session, token: str) -> Principal | None:
    """Who holds this session token, if it is live and the user is active."""
    row = _active_session(db, token)
    if row is None:
        return None
    user = db.get(User, row.user_id)
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    now = clock.now()
    if now - row.last_seen_at > TOUCH_INTERVAL:
        row.last_seen_at = now
        db.add(row)
    return principal_for_user(user)


def principal_for_user(user: User | None) -> Principal | None:
    """The principal of a user who acts through a channel that identifies them by other means than a session or
    a key — a Slack button, an SMS or WhatsApp reply, an acknowledge link: their role, with every scope a signed-in
    session has. None for a missing or disabled user."""
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    return Principal(user_id=user.id, email=user.email, name=user.name, role=user.role, time_zone=user.time_zone)


def revoke_session(db: Session, token: str) -> bool:
    row = _active_session(db, token)
    if row is None:
        return False
    row.revoked_at = clock.now()
    db.add(row)
    return True


def revoke_all_sessions(db: Session, user_id: int, *, keep_token: str = "") -> int:
    """End every live session of the user, except the one holding `keep_token` (a password change keeps the
    session it was made in). Returns how many were ended."""
    now = clock.now()
    keep = security.token_digest(keep_token) if keep_token else None
    rows = db.exec(select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))).all()
    ended = 0
    for row in rows:
        if row.token_digest == keep:
            continue
        row.revoked_at = now
        db.add(row)
        ended += 1
    return ended


def revoke_all_api_keys(db: Session, user_id: int) -> int:
    now = clock.now()
    rows = db.exec(select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at = now
        db.add(row)
    return len(rows)


def create_api_key(db: Session, user: User, *, name: str, scopes: tuple[str, ...] = API_KEY_SCOPES) -> tuple[str, ApiKey]:
    """A new personal API key for `user`; returns (key shown once, row)."""
    if not name.strip():
        raise AccountError("API key name must not be empty")
    unknown = set(scopes) - set(API_KEY_SCOPES)
    if unknown or not scopes:
        raise AccountError(f"Scopes must be a non-empty subset of {', '.join(API_KEY_SCOPES)}")
    key = security.new_token(security.API_KEY_PREFIX)
    row = ApiKey(user_id=user.id, name=name.strip()[:100], prefix=security.display_prefix(key),
                 key_digest=security.token_digest(key), scopes=list(scopes), created_at=clock.now())
    db.add(row)
    db.flush()
    return key, row


def principal_for_api_key(db: Session, key: str) -> Principal | None:
    if not key or not key.startswith(security.API_KEY_PREFIX):
        return None
    row = db.exec(select(ApiKey).where(ApiKey.key_digest == security.token_digest(key))).first()
    if row is None or row.revoked_at is not None or not security.digests_match(row.key_digest, key):
        return None
    user = db.get(User, row.user_id)
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > TOUCH_INTERVAL:
        row.last_used_at = now
        db.add(row)
    return Principal(user_id=user.id, email=user.email, name=user.name, role=user.role,
                     scopes=tuple(row.scopes or ()), api_key_id=row.id, time_zone=user.time_zone)


def ensure_bootstrap_admin(db: Session, settings: Settings) -> User | None:
    """Create the first admin from OPSKNIGHT_ADMIN_EMAIL/PASSWORD when no user exists yet."""
    if not settings.admin_email or db.exec(select(User.id).limit(1)).first() is not None:
        return None
    return create_user(db, email=settings.admin_email, name="Administrator", role=Role.ADMIN,
                       password=settings.admin_password)
