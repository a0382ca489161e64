"""Login throttling, the pure part: given the recent failed sign-ins for one key (an account or a client address),
until when are further attempts refused. No I/O, no clock: times are POSIX seconds passed in.

A few failures are free; after that every further failure in the window doubles a short cooldown, capped. Old
failures slide out of the window, so nothing is ever locked for good: the worst an attacker can do to an account
is keep it cooling down for `max_cooldown` at a time, which is the price of throttling per account at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    name: str  # the Redis key's kind: "account" or "address"
    free_failures: int  # failures inside the window before any cooldown
    window_seconds: int
    first_cooldown_seconds: int
    max_cooldown_seconds: int


# 5 wrong passwords for one email: wait 1, 2, 4, 8, then 15 minutes between further tries. The window is an hour
# so the cap is reached and held: with a 15-minute window the early failures would slide out before the cooldowns
# add up, and a patient guesser would get about three times as many tries a day (~600 instead of ~200).
ACCOUNT = Policy("account", free_failures=5, window_seconds=60 * 60, first_cooldown_seconds=60,
                 max_cooldown_seconds=15 * 60)
# One address may fail more often: several people behind one office NAT mistype their passwords too.
ADDRESS = Policy("address", free_failures=30, window_seconds=60 * 60, first_cooldown_seconds=60,
                 max_cooldown_seconds=15 * 60)


def cooldown_seconds(failures: int, policy: Policy) -> int:
    """How long to refuse attempts after `failures` recent failures (0 while they are still free)."""
    extra = failures - policy.free_failures
    if extra < 0:
        return 0
    return min(policy.max_cooldown_seconds, policy.first_cooldown_seconds * 2 ** min(extra, 32))


def refused_until(failures: Iterable[float], now: float, policy: Policy) -> float | None:
    """The end of the cooldown `failures` (their times) put this key in at `now`, or None when attempts may go on."""
    recent = sorted(t for t in failures if now - policy.window_seconds < t <= now)
    wait = cooldown_seconds(len(recent), policy)
    if not wait:
        return None
    until = recent[-1] + wait
    return until if until > now else None


def minutes_to_wait(seconds: float) -> int:
    """Whole minutes to tell a person, never 0."""
    return max(1, math.ceil(seconds / 60))


def refusal_message(seconds: float) -> str:
    """The same text whether or not the account exists."""
    minutes = minutes_to_wait(seconds)
    return f"Too many attempts, try again in {minutes} minute{'' if minutes == 1 else 's'}."
