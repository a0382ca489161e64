"""Normalizers: every example payload against its expected result, then errors and edge cases.

The files in ``tests/fixtures/expected/`` are the spec: each was checked by hand. To add a source or a
case, drop the payload in ``tests/fixtures/`` and its expected list of alerts in ``expected/``, and add a
row to ``CASES``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from opsknight.engine.normalize import NORMALIZERS, datadog, events_v2, generic, grafana, prometheus
from opsknight.engine.normalize.common import (
    Action,
    NormalizedAlert,
    PayloadError,
    Urgency,
    bounded_details,
    clean_text,
    make_links,
    map_severity,
    parse_time,
    severity_to_urgency,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# (source, payload file, options, expected file)
CASES = [
    ("prometheus", "alertmanager-firing.json", None, "alertmanager-firing.json"),
    ("prometheus", "alertmanager-mixed.json", None, "alertmanager-mixed.json"),
    ("prometheus", "alertmanager-mixed.json", {"group_by": "group_key"}, "alertmanager-mixed.group_key.json"),
    ("prometheus", "alertmanager-resolved-group.json", {"group_by": "group_key"}, "alertmanager-resolved-group.group_key.json"),
    ("prometheus", "alertmanager-edge-cases.json", None, "alertmanager-edge-cases.json"),
    ("grafana", "grafana-alerting.json", None, "grafana-alerting.json"),
    ("grafana", "grafana-resolved-legacy-values.json", None, "grafana-resolved-legacy-values.json"),
    ("grafana", "grafana-legacy-alerting.json", None, "grafana-legacy-alerting.json"),
    ("grafana", "grafana-legacy-no-data.json", None, "grafana-legacy-no-data.json"),
    ("grafana", "grafana-legacy-ok.json", None, "grafana-legacy-ok.json"),
    ("grafana", "grafana-legacy-pending.json", None, "grafana-legacy-pending.json"),
    ("datadog", "datadog-recommended.json", None, "datadog-recommended.json"),
    ("datadog", "datadog-recovered.json", None, "datadog-recovered.json"),
    ("datadog", "datadog-warn-no-cycle-key.json", None, "datadog-warn-no-cycle-key.json"),
    ("events_v2", "pd-events-v2-trigger.json", None, "pd-events-v2-trigger.json"),
    ("events_v2", "pd-events-v2-trigger-no-key.json", {"new_dedup_key": "0f9e8d7c6b5a49382716a5b4c3d2e1f0"}, "pd-events-v2-trigger-no-key.json"),
    ("events_v2", "pd-events-v2-resolve.json", None, "pd-events-v2-resolve.json"),
    ("generic", "generic-single.json", None, "generic-single.json"),
    ("generic", "generic-batch.json", None, "generic-batch.json"),
]


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("source", "payload", "options", "expected"), CASES, ids=[c[3] for c in CASES])
def test_fixture_normalizes_to_expected(source, payload, options, expected):
    alerts = NORMALIZERS[source](load(payload), options=options)
    assert all(isinstance(a, NormalizedAlert) for a in alerts)
    assert [a.to_dict() for a in alerts] == load(f"expected/{expected}")


def test_every_fixture_is_in_the_table():
    used = {c[1] for c in CASES}
    assert {p.name for p in FIXTURES.glob("*.json")} == used


def test_to_dict_is_strict_json():
    for source, payload, options, _ in CASES:
        for alert in NORMALIZERS[source](load(payload), options=options):
            json.dumps(alert.to_dict(), allow_nan=False)


# --- errors: (source, body, options, a fragment every error list must contain) ------------------------

ERRORS = [
    # prometheus / alertmanager
    ("prometheus", [], None, "body must be a JSON object, got array"),
    ("prometheus", "firing", None, "body must be a JSON object, got string"),
    ("prometheus", None, None, "got null"),
    ("prometheus", {"version": "4"}, None, "alerts is required"),
    ("prometheus", {"alerts": {"0": {}}}, None, "alerts must be a list, got object"),
    ("prometheus", {"alerts": [1]}, None, "alerts[0] must be an object, got number"),
    ("prometheus", {"alerts": [{}, {"labels": ["a"]}]}, None, "alerts[1].labels must be an object"),
    ("prometheus", {"alerts": [{"annotations": "x"}]}, None, "alerts[0].annotations must be an object"),
    ("prometheus", {"alerts": [{"status": "pending"}]}, None, "alerts[0].status must be 'firing' or 'resolved'"),
    ("prometheus", {"status": [], "alerts": [{}]}, None, "status must be 'firing' or 'resolved'"),
    ("prometheus", {"alerts": [{}]}, {"group_by": "group_key"}, "groupKey is required"),
    # grafana
    ("grafana", 42, None, "body must be a JSON object, got number"),
    ("grafana", {"foo": 1}, None, "an 'alerts' list"),
    ("grafana", {"alerts": "x"}, None, "alerts must be a list"),
    ("grafana", {"ruleId": 1, "state": "exploded"}, None, "state must be one of"),
    ("grafana", {"state": "alerting"}, None, "ruleId or ruleName is required"),
    ("grafana", {"ruleId": 1, "state": "alerting", "evalMatches": {}}, None, "evalMatches must be a list"),
    # datadog
    ("datadog", ["x"], None, "body must be a JSON object"),
    ("datadog", {"alert_id": "1"}, None, "alert_transition is required"),
    ("datadog", {"alert_transition": "Triggered"}, None, "alert_cycle_key or alert_id is required"),
    ("datadog", {"alert_transition": "$ALERT_TRANSITION", "alert_id": "$ALERT_ID"}, None, "alert_transition is required"),
    # events v2
    ("events_v2", "nope", None, "body must be a JSON object"),
    ("events_v2", {"event_action": "resolve", "dedup_key": "k"}, None, "routing_key is required"),
    ("events_v2", {"routing_key": 5, "event_action": "resolve", "dedup_key": "k"}, None, "routing_key must be a string"),
    ("events_v2", {"routing_key": "r", "event_action": "explode", "dedup_key": "k"}, None, "event_action must be one of"),
    ("events_v2", {"routing_key": "r", "event_action": "resolve"}, None, "dedup_key is required for resolve events"),
    ("events_v2", {"routing_key": "r", "event_action": "acknowledge", "dedup_key": ""}, None, "dedup_key is required for acknowledge"),
    ("events_v2", {"routing_key": "r", "event_action": "resolve", "dedup_key": 12}, None, "dedup_key must be a string"),
    ("events_v2", {"routing_key": "r", "event_action": "resolve", "dedup_key": "k" * 256}, None, "dedup_key must be at most 255"),
    ("events_v2", {"routing_key": "r", "event_action": "trigger", "dedup_key": "k"}, None, "payload is required"),
    ("events_v2", {"routing_key": "r", "event_action": "trigger", "dedup_key": "k", "payload": []}, None, "payload must be an object"),
    ("events_v2", {"routing_key": "r", "event_action": "resolve", "dedup_key": "k", "links": {}}, None, "links must be a list"),
    ("events_v2", {"routing_key": "r", "event_action": "resolve", "dedup_key": "k", "links": ["https://x"]}, None, "links[0] must be an object"),
    ("events_v2", {"routing_key": "r", "event_action": "resolve", "dedup_key": "k", "links": [{"text": "t"}]}, None, "links[0].href is required"),
    ("events_v2", {"routing_key": "r", "event_action": "resolve", "dedup_key": "k", "images": [{"href": "https://x"}]}, None, "images[0].src is required"),
    # generic
    ("generic", "text", None, "body must be a JSON object or an array of objects, got string"),
    ("generic", {}, None, "summary is required"),
    ("generic", {"summary": ""}, None, "summary must be a non-empty string"),
    ("generic", {"summary": "\n\t "}, None, "summary must be a non-empty string"),
    ("generic", {"summary": 5}, None, "summary must be a non-empty string"),
    ("generic", {"summary": "s", "action": "explode"}, None, "action must be one of trigger, acknowledge, resolve"),
    ("generic", {"summary": "s", "severity": 3}, None, "severity must be one of"),
    ("generic", {"summary": "s", "dedup_key": 3}, None, "dedup_key must be a string"),
    ("generic", {"summary": "s", "source": {}}, None, "source must be a string"),
    ("generic", {"summary": "s", "details": "x"}, None, "details must be an object"),
    ("generic", {"summary": "s", "links": "https://x"}, None, "links must be a list"),
    ("generic", {"summary": "s", "links": [5]}, None, "links[0] must be a URL string"),
    ("generic", {"summary": "s", "timestamp": "yesterday"}, None, "timestamp must be an ISO 8601"),
    ("generic", [{"summary": "ok"}, "x"], None, "[1] must be an object, got string"),
    ("generic", [{"summary": "ok"}, {"severity": "info"}], None, "[1].summary is required"),
    ("generic", [{"summary": "s"}] * 101, None, "a batch holds at most 100 alerts, got 101"),
]


@pytest.mark.parametrize(("source", "body", "options", "message"), ERRORS, ids=[f"{e[0]}:{e[3]}" for e in ERRORS])
def test_bad_shape_raises_payload_error_naming_the_field(source, body, options, message):
    with pytest.raises(PayloadError) as caught:
        NORMALIZERS[source](body, options=options)
    assert any(message in error for error in caught.value.errors), caught.value.errors


def test_events_v2_trigger_collects_every_payload_error():
    body = {
        "routing_key": None,
        "event_action": "trigger",
        "dedup_key": "k",
        "payload": {"summary": "x" * 1025, "severity": "CRITICAL", "timestamp": "31/12/2026",
                    "component": 5, "group": [], "class": {}},
    }
    with pytest.raises(PayloadError) as caught:
        events_v2.normalize(body)
    assert caught.value.errors == [
        "routing_key is required",
        "payload.summary must be at most 1024 characters, got 1025",
        "payload.source is required and must be a non-empty string",
        "payload.severity must be one of critical, error, warning, info",
        "payload.timestamp must be an ISO 8601 timestamp",
        "payload.component must be a string, got number",
        "payload.group must be a string, got array",
        "payload.class must be a string, got object",
    ]
    assert str(caught.value).startswith("routing_key is required; payload.summary")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"source": "s", "severity": "info"}, "payload.summary is required"),
        ({"summary": "  ", "source": "s", "severity": "info"}, "payload.summary is required"),
        ({"summary": "s", "severity": "info"}, "payload.source is required"),
        ({"summary": "s", "source": "", "severity": "info"}, "payload.source is required"),
        ({"summary": "s", "source": "s"}, "payload.severity must be one of"),
        ({"summary": "s", "source": "s", "severity": "fatal"}, "payload.severity must be one of"),
        ({"summary": "s", "source": "s", "severity": "info", "timestamp": 1763719200}, "payload.timestamp must be"),
    ],
)
def test_events_v2_trigger_payload_rules(payload, message):
    body = {"routing_key": "r", "event_action": "trigger", "dedup_key": "k", "payload": payload}
    with pytest.raises(PayloadError) as caught:
        events_v2.normalize(body)
    assert any(message in e for e in caught.value.errors), caught.value.errors


def test_events_v2_summary_of_exactly_1024_is_accepted():
    body = {"routing_key": "r", "event_action": "trigger", "dedup_key": "k",
            "payload": {"summary": "x" * 1024, "source": "s", "severity": "critical"}}
    [alert] = events_v2.normalize(body)
    assert len(alert.summary) == 1024 and alert.severity == "critical"


def test_events_v2_trigger_without_key_needs_a_generated_one():
    body = load("pd-events-v2-trigger.json")
    del body["dedup_key"]
    with pytest.raises(PayloadError, match="dedup_key is required"):
        events_v2.normalize(body)
    [alert] = events_v2.normalize(body, options={"new_dedup_key": "generated"})
    assert alert.dedup_key == "generated"


def test_events_v2_acknowledge_ignores_payload():
    body = {"routing_key": "r", "event_action": "acknowledge", "dedup_key": "db-01/x", "payload": "garbage"}
    [alert] = events_v2.normalize(body)
    assert (alert.action, alert.dedup_key, alert.summary, alert.severity) == (
        Action.ACKNOWLEDGE, "db-01/x", "acknowledge db-01/x", "info")


def test_events_v2_routing_key_helper():
    assert events_v2.routing_key({"routing_key": "abc"}) == "abc"
    assert events_v2.routing_key({"routing_key": 1}) is None
    assert events_v2.routing_key(["routing_key"]) is None


# --- source-specific behaviour ------------------------------------------------------------------------


def test_alertmanager_empty_alerts_is_no_alerts():
    assert prometheus.normalize({"version": "4", "status": "firing", "alerts": []}) == []
    assert prometheus.normalize({"groupKey": "g", "alerts": []}, options={"group_by": "group_key"}) == []


def test_alertmanager_fingerprint_fallback_is_stable_over_label_order():
    one = prometheus.normalize({"alerts": [{"labels": {"a": "1", "b": "2"}}]})[0]
    two = prometheus.normalize({"alerts": [{"labels": {"b": "2", "a": "1"}}]})[0]
    assert one.dedup_key == two.dedup_key and len(one.dedup_key) == 64


def test_alertmanager_missing_status_pages():
    [alert] = prometheus.normalize({"alerts": [{"labels": {"alertname": "X"}}]})
    assert (alert.action, alert.severity, alert.summary, alert.source) == (Action.TRIGGER, "error", "X", "alertmanager")


def test_alertmanager_group_key_is_hashed_with_prefix():
    body = {"groupKey": "g" * 5000, "status": "firing", "alerts": [{"fingerprint": "f"}]}
    [alert] = prometheus.normalize(body, options={"group_by": "group_key"})
    assert alert.dedup_key.startswith("group:") and len(alert.dedup_key) == 6 + 64


def test_alertmanager_group_severity_is_the_worst_firing_member():
    body = {"groupKey": "g", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"severity": "warning"}},
        {"status": "resolved", "labels": {"severity": "critical"}},
        {"status": "firing", "labels": {"severity": "error"}},
    ]}
    [alert] = prometheus.normalize(body, options={"group_by": "group_key"})
    assert alert.severity == "error" and alert.action is Action.TRIGGER


def test_unknown_group_by_is_a_configuration_error():
    with pytest.raises(ValueError, match="group_by"):
        prometheus.normalize({"alerts": []}, options={"group_by": "labels"})


def test_grafana_modern_shares_group_by_option():
    [alert] = grafana.normalize(load("grafana-alerting.json"), options={"group_by": "group_key"})
    assert alert.dedup_key.startswith("group:") and alert.source == "db-01"


@pytest.mark.parametrize(
    ("transition", "action", "severity"),
    [
        ("Triggered", Action.TRIGGER, "critical"),
        ("Re-Triggered", Action.TRIGGER, "critical"),
        ("Renotify", Action.TRIGGER, "critical"),
        ("No Data", Action.TRIGGER, "critical"),
        ("Re-No Data", Action.TRIGGER, "critical"),
        ("Warn", Action.TRIGGER, "warning"),
        ("Re-Warn", Action.TRIGGER, "warning"),
        ("Recovered", Action.RESOLVE, "critical"),
        ("recovered", Action.RESOLVE, "critical"),
        ("Null", Action.TRIGGER, "critical"),  # unknown transitions page rather than drop
    ],
)
def test_datadog_transitions(transition, action, severity):
    body = dict(load("datadog-recommended.json"), alert_transition=transition)
    [alert] = datadog.normalize(body)
    assert (alert.action, alert.severity, alert.dedup_key) == (action, severity, "7309134651729302018")


@pytest.mark.parametrize(("priority", "severity"), [("P1", "critical"), ("P2", "error"), ("P3", "warning"),
                                                    ("P4", "info"), ("P5", "info"), ("", "error"),
                                                    ("$ALERT_PRIORITY", "error")])
def test_datadog_priority_to_severity(priority, severity):
    body = dict(load("datadog-recommended.json"), alert_priority=priority)
    assert datadog.normalize(body)[0].severity == severity


def test_datadog_recommended_template_is_json_with_the_fields_we_read():
    template = json.loads(datadog.RECOMMENDED_TEMPLATE)
    assert set(template) == set(load("datadog-recommended.json"))
    assert template["alert_cycle_key"] == "$ALERT_CYCLE_KEY"
    assert template["alert_transition"] == "$ALERT_TRANSITION"


def test_datadog_unsubstituted_template_is_rejected():
    with pytest.raises(PayloadError) as caught:
        datadog.normalize(json.loads(datadog.RECOMMENDED_TEMPLATE))
    assert len(caught.value.errors) == 2


def test_generic_batch_limit_is_inclusive():
    assert len(generic.normalize([{"summary": f"s{i}"} for i in range(100)])) == 100
    assert generic.normalize([]) == []


def test_generic_default_key_is_summary_plus_source():
    one = generic.normalize({"summary": "disk full", "source": "db-01"})[0]
    same = generic.normalize({"summary": "disk  full", "source": "db-01", "severity": "info"})[0]
    other = generic.normalize({"summary": "disk full", "source": "db-02"})[0]
    assert one.dedup_key == same.dedup_key != other.dedup_key


def test_generic_long_dedup_key_is_hashed_deterministically():
    key = "k" * 300
    first = generic.normalize({"summary": "s", "dedup_key": key})[0].dedup_key
    assert first == generic.normalize({"summary": "t", "dedup_key": key, "action": "resolve"})[0].dedup_key
    assert first.startswith("sha256:") and len(first) == 71


# --- bounds on hostile input --------------------------------------------------------------------------


def test_huge_unicode_and_control_characters_are_bounded():
    nasty = "🔥 Ünïcödé\x00\x07\r\n\u2028\u202e" * 2000
    labels = {f"k{i}": nasty for i in range(300)}
    body = {"alerts": [{"labels": labels, "annotations": {"summary": nasty}, "fingerprint": nasty}]}
    [alert] = prometheus.normalize(body)
    assert len(alert.summary) == 1024 and alert.summary.endswith("…")
    assert alert.summary.startswith("🔥 Ünïcödé 🔥 Ünïcödé")
    assert not any(ch in alert.summary for ch in "\x00\x07\r\n\u2028\u202e")
    assert alert.dedup_key.startswith("sha256:")
    assert len(alert.details["labels"]) == 101  # 100 kept + the "…" marker
    assert len(alert.details["labels"]["k0"]) == 4096
    assert "\x00" not in json.dumps(alert.to_dict())


def test_non_http_links_are_dropped():
    links = make_links([
        ("javascript:alert(1)", "x"), (" JAVASCRIPT:alert(1)", "x"), ("data:text/html,hi", "x"),
        ("vbscript:msgbox", "x"), ("//evil.example/x", "x"), ("/relative", "x"), ("https://", "x"),
        ("http://[::1", "x"), ("https://ok.example/a\nb", "x"), (None, "x"), (42, "x"),
        ("HTTPS://ok.example/path?q=a b", "Good\nlink"), ("HTTPS://ok.example/path?q=a b", "dup"),
    ])
    assert [link.to_dict() for link in links] == [{"href": "HTTPS://ok.example/path?q=a%20b", "text": "Good link"}]


def test_links_are_capped_at_20():
    assert len(make_links((f"https://x.example/{i}", str(i)) for i in range(50))) == 20


# --- helpers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "severity"),
    [("crit", "critical"), ("CRITICAL", "critical"), ("p1", "critical"), ("High", "critical"),
     ("page", "critical"), ("disaster", "critical"), ("error", "error"), ("err", "error"), ("major", "error"),
     ("P2", "error"), ("warn", "warning"), (" warning ", "warning"), ("minor", "warning"), ("p3", "warning"),
     ("average", "warning"), ("info", "info"), ("informational", "info"), ("low", "info"), ("ok", "info"),
     ("none", "info"), ("p4", "info"), ("p5", "info"), ("", "error"), ("bogus", "error"), (None, "error"),
     (3, "error"), (["critical"], "error")],
)
def test_map_severity(raw, severity):
    assert map_severity(raw) == severity


@pytest.mark.parametrize(("severity", "urgency"), [("critical", Urgency.HIGH), ("error", Urgency.HIGH),
                                                   ("warning", Urgency.LOW), ("info", Urgency.LOW),
                                                   ("unknown", Urgency.HIGH)])
def test_severity_to_urgency(severity, urgency):
    assert severity_to_urgency(severity) is urgency


UTC = timezone.utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20T03:12:05.412Z", datetime(2026, 11, 20, 3, 12, 5, 412000, UTC)),
        ("2026-11-20T03:12:05.412345678Z", datetime(2026, 11, 20, 3, 12, 5, 412345, UTC)),
        ("2026-11-20T04:12:05+01:00", datetime(2026, 11, 20, 3, 12, 5, tzinfo=UTC)),
        ("2026-11-20T03:12:05", datetime(2026, 11, 20, 3, 12, 5, tzinfo=UTC)),  # naive -> UTC
        ("0001-01-01T00:00:00Z", None),  # Alertmanager: unset
        ("0001-01-01T00:00:00+01:00", None),
        (1763719200, datetime(2025, 11, 21, 10, 0, tzinfo=UTC)),
        (1763719200.5, datetime(2025, 11, 21, 10, 0, 0, 500000, UTC)),
        ("1763719200000", datetime(2025, 11, 21, 10, 0, tzinfo=UTC)),  # Datadog $DATE, milliseconds
        (0, None), (-5, None), (None, None), ("", None), ("yesterday", None), (True, None),
        (float("nan"), None), (float("inf"), None), (1e300, None), ([], None), ("9999-12-31T23:59:59-01:00", None),
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value) == expected


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("plain", 10, "plain"),
        ("a\nb\r\nc\td", 20, "a b c d"),
        ("  many   spaces  ", 20, "many spaces"),
        ("abcdefghij", 5, "abcd…"),
        ("x\x00y\x1bz\x7f", 10, "x y z"),
        ("\u202eevil\u202c", 10, "evil"),
        (None, 5, ""),
        (True, 5, "true"),
        (12.5, 5, "12.5"),
        ({"a": [1]}, 50, '{"a": [1]}'),
        ("\ud800lone", 10, "lone"),
    ],
)
def test_clean_text(value, limit, expected):
    assert clean_text(value, limit) == expected


def test_bounded_details_depth_keys_strings_and_json_types():
    deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    out = bounded_details({"deep": deep, "nan": float("nan"), "set": {1}, 3: "int key", "s": "x" * 5000,
                           "list": list(range(150)), "nul": "a\x00b"}, max_depth=5)
    assert out["deep"]["a"]["b"]["c"]["d"] == "{e: …}"
    assert out["nan"] == "nan" and out["set"] == "{1}" and out["3"] == "int key"
    assert len(out["s"]) == 4096 and out["s"].endswith("…")
    assert len(out["list"]) == 101 and out["list"][-1] == "… 50 more items dropped"
    assert out["nul"] == "ab"
    json.dumps(out, allow_nan=False)


def test_payload_error_carries_every_error():
    error = PayloadError(["a is wrong", "b is wrong"])
    assert isinstance(error, ValueError) and error.errors == ["a is wrong", "b is wrong"]
    assert str(error) == "a is wrong; b is wrong"
    assert PayloadError("only").errors == ["only"]


def _nested(depth: int):
    value: object = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize("bomb", [_nested(5000), 10**5000, float("nan")], ids=["deep", "huge-int", "nan"])
@pytest.mark.parametrize(("source", "payload", "options", "expected"), CASES, ids=[c[3] for c in CASES])
def test_hostile_values_in_any_field_never_escape_as_other_exceptions(bomb, source, payload, options, expected):
    """Deep nesting (no recursion past the bounds), integers str() refuses, NaN: PayloadError or clean alerts."""
    body = load(payload)
    fields = list(body) if isinstance(body, dict) else range(len(body))
    for field in fields:
        for inner in (None, *(body[field] if isinstance(body[field], dict) else ())):
            mutated = json.loads(json.dumps(body))
            if inner is None:
                mutated[field] = bomb
            else:
                mutated[field][inner] = bomb
            try:
                alerts = NORMALIZERS[source](mutated, options=options)
            except PayloadError:
                continue
            for alert in alerts:
                json.dumps(alert.to_dict(), allow_nan=False)
