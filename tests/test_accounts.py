"""Users, sessions and API keys on PostgreSQL: hashed at rest, revocable, and refused once revoked or disabled."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from opsknight import accounts, security
from opsknight.engine import clock
from opsknight.models import ApiKey, Role, UserSession, UserStatus


def _user(session, email="ann@example.com", role=Role.RESPONDER, password="correct horse"):
    user = accounts.create_user(session, email=email, name="Ann", role=role, password=password)
    session.commit()
    return user


def test_passwords_are_bcrypt_hashed_and_checked(session):
    user = _user(session, email="Ann@Example.com")
    assert user.email == "ann@example.com"
    assert user.password_hash.startswith("$2b$") and "correct horse" not in user.password_hash
    assert accounts.authenticate(session, "ANN@example.com", "correct horse").id == user.id
    assert accounts.authenticate(session, "ann@example.com", "wrong") is None
    assert accounts.authenticate(session, "nobody@example.com", "correct horse") is None


def test_a_72_byte_password_with_anything_after_it_does_not_sign_in(session):
    # bcrypt reads only the first 72 bytes: without the length check "<72 bytes>wrong" matched "<72 bytes>".
    password = "é" * 36  # 72 bytes in UTF-8, the longest allowed
    _user(session, password=password)
    assert accounts.authenticate(session, "ann@example.com", password) is not None
    for suffix in ("x", "anything at all", "é"):
        assert accounts.authenticate(session, "ann@example.com", password + suffix) is None
    assert not security.verify_password("a" * 72 + "b", security.hash_password("a" * 72))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"email": "not-an-email"}, "Not a valid email"),
    ({"role": "superuser"}, "Role must be one of"),
    ({"password": "short"}, "at least 8"),
    ({"password": "x" * 73}, "at most 72 bytes"),
    ({"name": "  "}, "Name must not be empty"),
])
def test_invalid_users_are_refused(session, kwargs, message):
    args = {"email": "bob@example.com", "name": "Bob", "role": Role.VIEWER, "password": "long enough"} | kwargs
    with pytest.raises(accounts.AccountError, match=message):
        accounts.create_user(session, **args)


def test_duplicate_email_is_refused(session):
    _user(session)
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.create_user(session, email="ANN@example.com", name="Other", password="another pw")


def test_session_token_is_stored_only_as_digest_and_revocable(session):
    user = _user(session)
    token = accounts.create_session(session, user, days=14)
    session.commit()
    row = session.exec(select(UserSession)).one()
    assert token.startswith(security.SESSION_PREFIX) and len(token) > 40
    assert row.token_digest == security.token_digest(token) and token not in row.token_digest
    assert accounts.principal_for_session(session, token).user_id == user.id
    assert accounts.principal_for_session(session, token + "x") is None
    assert accounts.revoke_session(session, token)
    assert accounts.principal_for_session(session, token) is None


def test_session_expires(session):
    user = _user(session)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    clock.set_now(start)
    token = accounts.create_session(session, user, days=1)
    clock.set_now(start + timedelta(hours=23))
    assert accounts.principal_for_session(session, token) is not None
    clock.set_now(start + timedelta(days=1, seconds=1))
    assert accounts.principal_for_session(session, token) is None


def test_disabled_user_loses_sessions_and_keys_at_once(session):
    user = _user(session)
    token = accounts.create_session(session, user, days=14)
    key, _ = accounts.create_api_key(session, user, name="ci")
    user.status = UserStatus.DISABLED
    session.add(user)
    session.commit()
    assert accounts.principal_for_session(session, token) is None
    assert accounts.principal_for_api_key(session, key) is None
    assert accounts.authenticate(session, user.email, "correct horse") is None


def test_api_key_scopes_revocation_and_last_used(session):
    user = _user(session, role=Role.ADMIN)
    key, row = accounts.create_api_key(session, user, name="terraform", scopes=("read",))
    session.commit()
    assert key.startswith(security.API_KEY_PREFIX) and row.prefix == key[:12]
    principal = accounts.principal_for_api_key(session, key)
    assert principal.role == Role.ADMIN and principal.scopes == ("read",) and principal.api_key_id == row.id
    session.commit()
    assert session.get(ApiKey, row.id).last_used_at is not None
    row.revoked_at = clock.now()
    session.add(row)
    session.commit()
    assert accounts.principal_for_api_key(session, key) is None
    with pytest.raises(accounts.AccountError, match="Scopes"):
        accounts.create_api_key(session, user, name="bad", scopes=("admin",))


def test_revoke_all_sessions(session):
    user = _user(session)
    tokens = [accounts.create_session(session, user, days=14) for _ in range(3)]
    assert accounts.revoke_all_sessions(session, user.id) == 3
    assert all(accounts.principal_for_session(session, t) is None for t in tokens)
