"""Pure notification planning: rules, defaults, quiet hours."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from opsknight.engine.notify_plan import ContactInfo, RuleInfo, plan, quiet_until

NOW = datetime(2026, 11, 27, 2, 30, tzinfo=timezone.utc)
PUSH, SMS, WA, EMAIL = ContactInfo(1, "push"), ContactInfo(2, "sms"), ContactInfo(3, "whatsapp"), ContactInfo(4, "email")


def minutes(sends):
    return [(s.channel, int((s.send_at - NOW).total_seconds() // 60)) for s in sends]


def test_rules_for_the_urgency_push_sms_whatsapp():
    rules = [RuleInfo(10, 1, "high", 0), RuleInfo(11, 2, "high", 2), RuleInfo(12, 3, "high", 5),
             RuleInfo(13, 4, "low", 0)]
    assert minutes(plan([PUSH, SMS, WA, EMAIL], rules, "high", NOW)) == [("push", 0), ("sms", 2), ("whatsapp", 5)]
    assert minutes(plan([PUSH, SMS, WA, EMAIL], rules, "low", NOW)) == [("email", 0)]


def test_any_urgency_rule_applies_to_both():
    rules = [RuleInfo(10, 2, "any", 1)]
    assert minutes(plan([SMS], rules, "low", NOW)) == [("sms", 1)]


def test_user_without_rules_gets_defaults():
    assert minutes(plan([PUSH, SMS, EMAIL], [], "high", NOW)) == [("push", 0), ("email", 0), ("sms", 1)]
    assert minutes(plan([PUSH, SMS, EMAIL], [], "low", NOW)) == [("push", 0), ("email", 0)]


def test_disabled_contacts_and_rules_pointing_at_them_are_skipped():
    off = ContactInfo(2, "sms", enabled=False)
    assert plan([off], [RuleInfo(1, 2, "high", 0)], "high", NOW) == []
    assert minutes(plan([PUSH, off], [RuleInfo(1, 2, "high", 0)], "high", NOW)) == [("push", 0)]  # falls to defaults


def test_keys_are_stable_for_idempotency():
    assert [s.key for s in plan([SMS], [RuleInfo(7, 2, "high", 0)], "high", NOW)] == ["r7"]
    assert [s.key for s in plan([SMS], [], "high", NOW)] == ["d2"]


@pytest.mark.parametrize(("quiet", "tz", "now", "until"), [
    ({"start": "22:00", "end": "07:00"}, "UTC", NOW, NOW.replace(hour=7, minute=0)),  # after midnight
    ({"start": "22:00", "end": "07:00"}, "UTC", NOW.replace(hour=23), NOW.replace(hour=7, minute=0) + timedelta(days=1)),
    ({"start": "22:00", "end": "07:00"}, "UTC", NOW.replace(hour=12), None),
    ({"start": "01:00", "end": "05:00"}, "UTC", NOW, NOW.replace(hour=5, minute=0)),
    # 20:00 UTC is 01:30 in Kolkata (+05:30): quiet until 07:00 there, 01:30 UTC the next day.
    ({"start": "22:00", "end": "07:00"}, "Asia/Kolkata", NOW.replace(hour=20),
     datetime(2026, 11, 28, 1, 30, tzinfo=timezone.utc)),
    ({"start": "22:00", "end": "07:00"}, "Asia/Kolkata", NOW, None),  # 08:00 there
    ({"start": "bad"}, "UTC", NOW, None),
    (None, "UTC", NOW, None),
])
def test_quiet_until(quiet, tz, now, until):
    assert quiet_until(quiet, tz, now) == until


def test_quiet_hours_hold_low_urgency_only():
    quiet = {"start": "22:00", "end": "07:00"}
    assert minutes(plan([PUSH], [], "low", NOW, "UTC", quiet)) == [("push", 270)]
    assert minutes(plan([PUSH], [], "high", NOW, "UTC", quiet)) == [("push", 0)]


@pytest.mark.parametrize("quiet", [{"start": 2200, "end": "07:00"}, {"start": "22:00", "end": None}, ["22:00"],
                                   {"start": "25:99", "end": "07:00"}])
def test_malformed_quiet_hours_never_stop_a_page(quiet):
    assert minutes(plan([PUSH], [], "low", NOW, "UTC", quiet)) == [("push", 0)]
