"""Sign-in throttling on PostgreSQL + real Redis with a controllable clock: per account and per client address,
cooldowns that grow and end (never a permanent lockout), a fresh session token at every sign-in, and sign-in
still working when Redis is away."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from opsknight import accounts, broker
from opsknight.admin import signin
from opsknight.config import reset_settings
from opsknight.engine import clock

PASSWORD = "correct horse battery"
REFUSED = "Too many attempts, try again in"


@pytest.fixture
def ann(session):
    clock.set_now(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    accounts.create_user(session, email="ann@example.com", name="Ann", password=PASSWORD)
    session.commit()
    return "ann@example.com"


def attempt(email, password, ip="198.51.100.7", **kwargs) -> signin.SignInResult:
    return signin.sign_in(email, password, ip=ip, user_agent="pytest", **kwargs)


def fail(email, times, ip="198.51.100.7") -> list[str]:
    return [attempt(email, "wrong password", ip=ip).error for _ in range(times)]


def test_five_failures_then_refused_even_with_the_right_password(ann):
    assert fail(ann, 5) == [signin.WRONG_CREDENTIALS] * 5
    refused = attempt(ann, PASSWORD)
    assert refused.principal is None and refused.token == ""
    assert refused.error == "Too many attempts, try again in 1 minute."


def test_cooldown_ends_and_success_resets_the_count(ann):
    fail(ann, 5)
    clock.advance(timedelta(seconds=59))
    assert attempt(ann, PASSWORD).error.startswith(REFUSED)
    clock.advance(timedelta(seconds=2))
    ok = attempt(ann, PASSWORD)
    assert ok.principal is not None and ok.token.startswith("oks_") and ok.error == ""
    # The count starts again from zero: five more free failures before any cooldown.
    assert fail(ann, 5) == [signin.WRONG_CREDENTIALS] * 5
    assert attempt(ann, PASSWORD).error.startswith(REFUSED)


def test_cooldown_grows_is_capped_and_never_permanent(ann):
    fail(ann, 5)
    waits = []
    for _ in range(6):  # wait out each cooldown, fail once more
        clock.advance(timedelta(minutes=waits[-1] if waits else 1, seconds=1))
        assert attempt(ann, "wrong password").error == signin.WRONG_CREDENTIALS
        message = attempt(ann, PASSWORD).error
        waits.append(int(message.removeprefix(REFUSED).split()[0]))
    assert waits == [2, 4, 8, 15, 15, 15]
    clock.advance(timedelta(minutes=15, seconds=1))
    assert attempt(ann, PASSWORD).principal is not None  # no lockout outlives its cooldown


def test_refused_attempts_do_not_extend_the_cooldown(ann):
    fail(ann, 5)
    for _ in range(20):
        clock.advance(timedelta(seconds=2))
        assert attempt(ann, "wrong password").error.startswith(REFUSED)
    clock.advance(timedelta(seconds=25))  # one minute after the fifth failure
    assert attempt(ann, PASSWORD).principal is not None


def test_unknown_accounts_are_throttled_the_same_way(ann):
    ghost = "nobody@example.com"
    assert fail(ghost, 5) == fail(ann, 5) == [signin.WRONG_CREDENTIALS] * 5
    assert attempt(ghost, PASSWORD).error == attempt(ann, PASSWORD).error == "Too many attempts, try again in 1 minute."


def test_accounts_are_throttled_separately(ann, session):
    accounts.create_user(session, email="bob@example.com", name="Bob", password=PASSWORD)
    session.commit()
    fail(ann, 5)
    assert attempt("bob@example.com", PASSWORD).principal is not None
    assert attempt(ann, PASSWORD, ip="203.0.113.9").error.startswith(REFUSED)  # another address does not help


def test_one_address_guessing_many_accounts_is_throttled(ann):
    for i in range(30):
        assert attempt(f"guess{i}@example.com", "wrong password").error == signin.WRONG_CREDENTIALS
    assert attempt(ann, PASSWORD).error == "Too many attempts, try again in 1 minute."
    assert attempt(ann, PASSWORD, ip="203.0.113.9").principal is not None  # other addresses sign in
    clock.advance(timedelta(seconds=61))
    assert attempt(ann, PASSWORD).principal is not None


def test_a_success_does_not_wash_away_an_address_failures(ann):
    for i in range(29):
        attempt(f"guess{i}@example.com", "wrong password")
    assert attempt(ann, PASSWORD).principal is not None
    assert attempt("guess-again@example.com", "wrong password").error == signin.WRONG_CREDENTIALS  # the 30th
    assert attempt(ann, PASSWORD).error.startswith(REFUSED)


def test_sign_in_rotates_the_session_token(ann, session):
    first = attempt(ann, PASSWORD)
    second = attempt(ann, PASSWORD, previous_token=first.token)
    assert second.token != first.token
    assert accounts.principal_for_session(session, first.token) is None
    assert accounts.principal_for_session(session, second.token).email == ann


def test_a_failed_sign_in_keeps_the_previous_session(ann, session):
    first = attempt(ann, PASSWORD)
    attempt(ann, "wrong password", previous_token=first.token)
    assert accounts.principal_for_session(session, first.token) is not None


def test_redis_unreachable_fails_open_but_still_checks_the_password(ann, monkeypatch):
    monkeypatch.setenv("OPSKNIGHT_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    reset_settings()
    broker.reset_redis()
    assert fail(ann, 8) == [signin.WRONG_CREDENTIALS] * 8
    assert attempt(ann, PASSWORD).principal is not None


def test_parallel_guesses_cannot_slip_past_the_limit_while_bcrypt_runs(ann):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=10) as pool:
        errors = list(pool.map(lambda _: attempt(ann, "wrong password").error, range(20)))
    assert errors.count(signin.WRONG_CREDENTIALS) <= 5
    assert sum(e.startswith(REFUSED) for e in errors) >= 15
