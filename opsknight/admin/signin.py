"""Signing in: throttled per account and per client address (in Redis), a fresh session token every time.

Each attempt is written to a sorted set per key (the email's digest, the client address) *before* the password is
checked, and removed again only if it succeeds. So parallel guesses see each other and cannot slip past the
limit while bcrypt runs, and a crash mid-check counts as a failure. Attempts refused by a cooldown are not
counted: waiting it out is always enough (see `opsknight.admin.throttle` for the policy).

Redis unreachable: throttling fails open and the password is still checked. Sign-in is how an on-call engineer
reaches a live incident; locking everyone out because Redis blinked would turn a cache outage into a paging
outage, while bcrypt alone still keeps each guess slow. The failure is logged.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field

import redis

from opsknight import accounts, broker
from opsknight.admin import throttle
from opsknight.config import settings
from opsknight.db import session_scope
from opsknight.engine import clock

log = logging.getLogger(__name__)

KEY_PREFIX = "opsknight:login-failures"
WRONG_CREDENTIALS = "Wrong email or password."


def _keys(email: str, ip: str) -> list[tuple[str, throttle.Policy]]:
    # The email is hashed: Redis need not hold a list of who tried to sign in. Unknown emails get keys too, so a
    # refusal never tells whether an account exists.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    keys = [(f"{KEY_PREFIX}:{throttle.ACCOUNT.name}:{digest}", throttle.ACCOUNT)]
    if ip:
        keys.append((f"{KEY_PREFIX}:{throttle.ADDRESS.name}:{ip[:64]}", throttle.ADDRESS))
    return keys


@dataclass
class Attempt:
    """One sign-in attempt in flight: refused (`wait_seconds` > 0) or counted as a failure until it succeeds."""

    wait_seconds: float = 0.0
    member: str = ""
    keys: list[str] = field(default_factory=list)  # [account key, address key]


def begin(email: str, ip: str, now: float | None = None) -> Attempt:
    """Record an attempt for `email` from `ip`, or refuse it while either is cooling down."""
    now = clock.now().timestamp() if now is None else now
    keys = _keys(email, ip)
    member = f"{now:.6f}:{secrets.token_hex(6)}"
    try:
        pipe = broker.redis_conn().pipeline(transaction=True)
        for key, policy in keys:
            pipe.zremrangebyscore(key, "-inf", now - policy.window_seconds)
            pipe.zadd(key, {member: now})
            pipe.zrange(key, 0, -1, withscores=True)
            pipe.expire(key, policy.window_seconds + policy.max_cooldown_seconds)
        results = pipe.execute()
    except redis.RedisError as exc:
        log.warning("login throttling skipped, Redis unreachable: %s", exc)
        return Attempt()
    wait = 0.0
    for index, (_key, policy) in enumerate(keys):
        entries = results[index * 4 + 2]
        earlier = [score for name, score in entries if _text(name) != member]
        until = throttle.refused_until(earlier, now, policy)
        if until is not None:
            wait = max(wait, until - now)
    attempt = Attempt(wait, member, [key for key, _ in keys])
    if wait:
        _forget(attempt, [key for key, _ in keys])  # a refused attempt is not a failure
    return attempt


def succeeded(attempt: Attempt) -> None:
    """The password was right: the account's failures are forgiven; the address keeps its other failures (one
    valid account must not wash away an address's guesses at other accounts)."""
    if not attempt.keys:
        return
    try:
        conn = broker.redis_conn()
        conn.delete(attempt.keys[0])
        if len(attempt.keys) > 1:
            conn.zrem(attempt.keys[1], attempt.member)
    except redis.RedisError as exc:
        log.warning("could not clear login failures: %s", exc)


def _forget(attempt: Attempt, keys: list[str]) -> None:
    try:
        pipe = broker.redis_conn().pipeline(transaction=True)
        for key in keys:
            pipe.zrem(key, attempt.member)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not withdraw a refused login attempt: %s", exc)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class SignInResult:
    token: str = ""  # the new session token; empty when refused
    principal: accounts.Principal | None = None
    error: str = ""  # safe to show: never says whether the account exists


def sign_in(email: str, password: str, *, ip: str = "", user_agent: str = "", previous_token: str = "") -> SignInResult:
    """Check the password (unless throttled) and start a new session; the browser's previous token, if any, is
    revoked in the same transaction, so a token planted before sign-in (session fixation) is worthless."""
    attempt = begin(email, ip)
    if attempt.wait_seconds:
        return SignInResult(error=throttle.refusal_message(attempt.wait_seconds))
    with session_scope() as db:
        user = accounts.authenticate(db, email, password)
        if user is None:
            return SignInResult(error=WRONG_CREDENTIALS)
        if previous_token:
            accounts.revoke_session(db, previous_token)
        token = accounts.create_session(db, user, days=settings().session_days, ip=ip, user_agent=user_agent)
        principal = accounts.Principal(user_id=user.id, email=user.email, name=user.name, role=user.role)
    succeeded(attempt)
    return SignInResult(token=token, principal=principal)
