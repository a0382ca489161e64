"""Pure per-destination pacing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from opsknight.engine.pacing import bundle_text, held_until

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)


def test_first_page_goes_at_once_and_the_next_waits_for_the_window():
    assert held_until("sms", None, NOW) is None
    assert held_until("sms", NOW - timedelta(seconds=10), NOW) == NOW + timedelta(seconds=50)
    assert held_until("sms", NOW - timedelta(seconds=60), NOW) is None
    assert held_until("push", NOW - timedelta(seconds=5), NOW) == NOW + timedelta(seconds=5)


def test_bundle_text():
    assert bundle_text(12, {"checkout"}) == "12 more incidents on checkout"
    assert bundle_text(1, {"checkout"}) == "1 more incident on checkout"
    assert bundle_text(3, {"a", "b"}) == "3 more incidents"
    assert bundle_text(0, {"a"}) == ""
