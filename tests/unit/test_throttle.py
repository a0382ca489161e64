"""The login throttle's pure policy: free failures, a doubling cooldown with a cap, and a sliding window."""

from __future__ import annotations

import pytest

from opsknight.admin.throttle import ACCOUNT, ADDRESS, Policy, cooldown_seconds, refusal_message, refused_until

P = Policy("test", free_failures=3, window_seconds=600, first_cooldown_seconds=60, max_cooldown_seconds=300)


@pytest.mark.parametrize(("failures", "cooldown"), [(0, 0), (2, 0), (3, 60), (4, 120), (5, 240), (6, 300), (99, 300),
                                                    (10**6, 300)])
def test_cooldown_doubles_and_is_capped(failures, cooldown):
    assert cooldown_seconds(failures, P) == cooldown


def test_refused_until_the_cooldown_after_the_last_failure_ends():
    assert refused_until([100, 110], 120, P) is None
    assert refused_until([100, 110, 120], 120, P) == 180
    assert refused_until([100, 110, 120], 179.9, P) == 180
    assert refused_until([100, 110, 120], 180, P) is None


def test_old_failures_slide_out_of_the_window():
    assert refused_until([0, 1, 2, 700], 701, P) is None  # three of them are older than 600 s
    assert refused_until([0, 1, 2], 61.9, P) == 62 and refused_until([0, 1, 2], 62, P) is None


def test_failures_after_now_are_ignored():
    assert refused_until([10, 20, 30_000], 25, P) is None


def test_policies_cap_at_a_quarter_hour():
    assert cooldown_seconds(10**3, ACCOUNT) == 15 * 60 == cooldown_seconds(10**3, ADDRESS)
    assert ADDRESS.free_failures > ACCOUNT.free_failures


@pytest.mark.parametrize(("seconds", "text"), [(1, "1 minute."), (60, "1 minute."), (61, "2 minutes."),
                                               (900, "15 minutes.")])
def test_refusal_message(seconds, text):
    assert refusal_message(seconds) == f"Too many attempts, try again in {text}"
