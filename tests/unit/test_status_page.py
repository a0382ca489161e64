"""The status page's pure rules: a component's state from open incidents, its 90-day history and uptime, the
page's overall status and an incident's public name and stage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from opsknight.engine.status_page import (
    Days,
    Span,
    component_status,
    derived_status,
    history,
    overall,
    public_name,
    public_status,
    tally,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def span(service_id: int, urgency: str = "high", start: datetime = NOW - timedelta(hours=1),
         end: datetime | None = None) -> Span:
    return Span(service_id, urgency, start, end)


def test_the_state_a_component_is_in_follows_its_services_open_incidents():
    assert derived_status([1, 2], []) == "operational"
    assert derived_status([1, 2], [span(3)]) == "operational"  # another component's service
    assert derived_status([1, 2], [span(1, "low")]) == "degraded_performance"
    assert derived_status([1, 2], [span(1, "low"), span(2)]) == "partial_outage"
    assert derived_status([1, 2], [span(1), span(2, "low"), span(2)]) == "major_outage"
    assert derived_status([1], [span(1)]) == "major_outage"
    assert derived_status([], [span(1)]) == "operational"


def test_a_service_in_maintenance_counts_none_of_its_incidents_and_shows_as_under_maintenance():
    assert derived_status([1], [], in_maintenance=[1]) == "under_maintenance"
    assert derived_status([1], [span(1)], in_maintenance=[1]) == "under_maintenance"  # expected alerts
    assert derived_status([1, 2], [span(2, "low")], in_maintenance=[1]) == "degraded_performance"
    assert derived_status([1, 2], [span(1), span(2)], in_maintenance=[1]) == "partial_outage"
    assert derived_status([1, 2], [], in_maintenance=[3]) == "operational"


def test_a_manual_override_wins_over_incidents_until_cleared():
    assert component_status("under_maintenance", [1], [span(1)]) == "under_maintenance"
    assert component_status("major_outage", [1], []) == "major_outage"
    assert component_status(None, [1], [span(1)]) == "major_outage"


def test_history_counts_overlapping_outages_once_and_splits_them_at_midnight():
    day = datetime(2026, 12, 5, tzinfo=UTC)
    spans = [span(1, start=day - timedelta(minutes=30), end=day + timedelta(minutes=60)),  # 30 + 60 minutes
             span(1, start=day + timedelta(minutes=30), end=day + timedelta(minutes=90)),  # overlaps: +30
             span(1, "low", start=day + timedelta(hours=5), end=day + timedelta(hours=9)),  # degraded: not down
             span(2, start=day, end=day + timedelta(hours=10))]  # another component's service
    got = history([1], spans, NOW, days=3)
    assert got["days"] == [
        {"date": "2026-12-04", "status": "major_outage", "outage_minutes": 30},
        {"date": "2026-12-05", "status": "major_outage", "outage_minutes": 90},
        {"date": "2026-12-06", "status": "operational", "outage_minutes": 0},
    ]
    observed = (NOW - datetime(2026, 12, 4, tzinfo=UTC)).total_seconds()
    assert got["uptime"] == round(100 * (1 - 120 * 60 / observed), 3)


def test_history_of_a_component_of_several_services_shows_a_partial_outage_and_open_incidents_run_to_now():
    got = history([1, 2], [span(2, start=NOW - timedelta(hours=2))], NOW, days=2)
    assert got["days"][-1] == {"date": "2026-12-06", "status": "partial_outage", "outage_minutes": 120}


def test_days_before_a_component_existed_have_no_data_and_do_not_count_against_uptime():
    added = NOW - timedelta(hours=3)  # today, 09:00
    got = history([1], [span(1, start=NOW - timedelta(minutes=12), end=NOW - timedelta(minutes=6))], NOW,
                  since=added, days=3)
    assert [d["status"] for d in got["days"]] == ["no_data", "no_data", "major_outage"]
    assert got["uptime"] == round(100 * (1 - 6 / (12 * 60)), 3)  # 6 minutes down since midnight


def test_the_overall_status_is_the_worst_components():
    assert overall([]) == {"indicator": "none", "description": "All Systems Operational"}
    assert overall(["operational", "degraded_performance"])["indicator"] == "minor"
    assert overall(["partial_outage", "degraded_performance"]) == {"indicator": "major",
                                                                    "description": "Partial System Outage"}
    assert overall(["major_outage", "under_maintenance"])["indicator"] == "critical"


def test_an_incident_is_named_and_staged_for_the_public_without_its_internal_title():
    assert public_name(None, "high", ["API", "Checkout"]) == "Outage: API, Checkout"
    assert public_name(None, "low", ["API"]) == "Degraded performance: API"
    assert public_name("Slow logins", "high", ["API"]) == "Slow logins"
    assert public_status(False, []) == "investigating"
    assert public_status(False, [{"status": "identified"}, {"status": "monitoring"}]) == "monitoring"
    assert public_status(True, [{"status": "monitoring"}]) == "resolved"


def test_history_from_a_settled_tally_plus_todays_incidents_equals_history_from_all_of_them():
    midnight = datetime(2026, 12, 6, tzinfo=UTC)
    settled_spans = [span(1, start=midnight - timedelta(days=d, hours=3), end=midnight - timedelta(days=d, hours=1))
                     for d in range(1, 40, 3)] + [span(2, "low", start=midnight - timedelta(days=5), end=midnight
                                                       - timedelta(days=4))]
    recent = [span(1, start=midnight - timedelta(days=2), end=None),  # open for two days: crosses past days
              span(2, start=midnight + timedelta(hours=1), end=midnight + timedelta(hours=2))]
    since = NOW - timedelta(days=60)
    settled = tally([1, 2], settled_spans, midnight, since=since)
    assert history([1, 2], recent, NOW, since=since, settled=settled) == \
        history([1, 2], settled_spans + recent, NOW, since=since)


def test_a_settled_tally_survives_its_trip_through_json_and_gives_the_same_history():
    day = datetime(2026, 12, 1, tzinfo=UTC)
    spans = [span(1, start=day + timedelta(minutes=m), end=day + timedelta(minutes=m + 45)) for m in range(0, 600, 30)]
    spans.append(span(1, "low", start=day - timedelta(days=3), end=day - timedelta(days=2)))
    midnight = datetime(2026, 12, 6, tzinfo=UTC)
    settled = tally([1], spans, midnight, since=NOW - timedelta(days=30))
    again = Days.from_json(json.loads(json.dumps(settled.to_json())))
    assert len(again.down[day.date()]) == 1  # stored merged: 20 overlapping incidents, one interval
    recent = [span(1, start=midnight - timedelta(hours=30), end=None)]
    assert history([1], recent, NOW, since=NOW - timedelta(days=30), settled=again) == \
        history([1], recent, NOW, since=NOW - timedelta(days=30), settled=settled)
