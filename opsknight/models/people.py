"""People and access: users, login sessions, API keys, teams."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from opsknight.models._base import DIGEST_LEN, JSONType, _now, _one_of


class Role(StrEnum):
    ADMIN = "admin"  # everything, including users and settings
    RESPONDER = "responder"  # acknowledge/resolve, manage own contact methods and overrides
    VIEWER = "viewer"  # read only


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # cannot log in and is never paged; preferred over deleting a user


class ApiScope(StrEnum):
    READ = "read"
    WRITE = "write"


class TeamRole(StrEnum):
    MEMBER = "member"
    MANAGER = "manager"


class User(SQLModel, table=True):
    """A person who logs in and/or gets paged. Email is stored lower-case (a CHECK refuses anything else)."""

    __tablename__ = "users"
    __table_args__ = (
        _one_of("role", Role),
        _one_of("status", UserStatus),
        sa.CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    role: str = Field(default=Role.RESPONDER, max_length=16)
    time_zone: str = Field(default="UTC", max_length=64)  # IANA name, validated with zoneinfo by callers
    status: str = Field(default=UserStatus.ACTIVE, max_length=16)
    password_hash: str | None = Field(default=None, max_length=255)  # bcrypt; None until an invite is accepted
    # Low-urgency pages are held during quiet hours, in the user's time zone: {"start": "22:00", "end": "07:00"}.
    quiet_hours: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    ical_token_digest: str | None = Field(default=None, max_length=DIGEST_LEN, unique=True)  # secret iCal URL
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime | None = None


class UserSession(SQLModel, table=True):
    """A server-side login session; the cookie holds the token, the database only its SHA-256 digest."""

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    token_digest: str = Field(max_length=DIGEST_LEN, unique=True)
    created_at: datetime = Field(default_factory=_now)
    expires_at: datetime
    last_seen_at: datetime | None = None
    revoked_at: datetime | None = None
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, sa_type=sa.Text)


class ApiKey(SQLModel, table=True):
    """A REST API key acting as its user. Only the digest is stored; ``prefix`` lets people recognise a key."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=32)
    key_digest: str = Field(max_length=DIGEST_LEN, unique=True)
    scopes: list[str] = Field(default_factory=lambda: [ApiScope.READ.value], sa_type=JSONType)  # ApiScope values
    created_at: datetime = Field(default_factory=_now)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class Team(SQLModel, table=True):
    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    description: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=_now)


class TeamMembership(SQLModel, table=True):
    __tablename__ = "team_memberships"
    __table_args__ = (sa.UniqueConstraint("team_id", "user_id"), _one_of("role", TeamRole))

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    role: str = Field(default=TeamRole.MEMBER, max_length=16)
    created_at: datetime = Field(default_factory=_now)
