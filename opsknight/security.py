"""Passwords, random tokens and their digests. Pure functions: no database, no clock.

Every secret we hand out (session tokens, API keys, integration tokens) is ≥ 168 bits of randomness with a
recognizable prefix, stored only as its SHA-256 digest, and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

import bcrypt

SESSION_PREFIX = "oks_"
API_KEY_PREFIX = "okk_"
INTEGRATION_TOKEN_PREFIX = "okt_"
DISPLAY_PREFIX_LEN = 12  # what the UI shows of a key, e.g. "okk_3fA9x2Qb"

# bcrypt only looks at the first 72 bytes; longer passwords are refused rather than silently truncated.
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_LENGTH = 8


class PasswordPolicyError(ValueError):
    """The password is too short or too long."""


def _rounds() -> int:
    # Tests lower the cost (OPSKNIGHT_BCRYPT_ROUNDS=4); production keeps bcrypt's default of 12.
    return int(os.environ.get("OPSKNIGHT_BCRYPT_ROUNDS", "12"))


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise PasswordPolicyError(f"Password must be at most {MAX_PASSWORD_BYTES} bytes")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=_rounds())).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches. Always spends one bcrypt check, even without a hash (timing).

    bcrypt reads only the first 72 bytes, so a longer candidate would match on its head alone: a 72-byte password
    plus any suffix would sign in. No stored hash comes from a longer password (`hash_password` has always
    refused them), so a longer candidate can never be right and is refused outright; existing hashes need no
    migration."""
    candidate = password.encode()
    if not password_hash or len(candidate) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(candidate[:MAX_PASSWORD_BYTES], _DUMMY_HASH)
        return False
    try:
        return bcrypt.checkpw(candidate, password_hash.encode())
    except ValueError:
        return False


_DUMMY_HASH = bcrypt.hashpw(b"opsknight-dummy-password", bcrypt.gensalt(rounds=_rounds()))


def new_token(prefix: str) -> str:
    """A new secret: the prefix plus 32 random bytes, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def new_integration_token() -> str:
    """A service token of exactly 32 characters (168 random bits): PagerDuty clients expect 32-character
    routing keys, and some refuse any other length."""
    return INTEGRATION_TOKEN_PREFIX + secrets.token_urlsafe(21)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    return token[:DISPLAY_PREFIX_LEN]


def digests_match(expected_digest: str, token: str) -> bool:
    """Constant-time check that `token` hashes to `expected_digest`."""
    return hmac.compare_digest(expected_digest.encode(), token_digest(token).encode())
