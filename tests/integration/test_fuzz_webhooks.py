"""Fuzzing the ingestion endpoints (`/api/webhooks/*`, `/api/v2/enqueue`) with a valid token for each.

Two fuzzers:

* schemathesis, from the app's own OpenAPI document: bodies generated from each route's documented request
  schema (api/webhooks/schemas.py); every answer must be documented (status, content type, body schema), never
  a 5xx, and agree with the model below.
* hypothesis, the main one: per endpoint, arbitrary JSON, arbitrary bytes, structured "almost valid" bodies of
  every sender's shape (small dedup-key pools, so triggers, duplicates, acks and resolves meet the same open
  incidents across examples), random mutations of the sample payloads in tests/fixtures/, and several ways to
  send the token (or a wrong one).

  Every answer is compared with a model: the expected status (and error code) is computed from the body with
  the pure normalizers as an oracle; a 2xx must match, result for result, a simulation of the dedup state
  machine (created / attached / acknowledged / resolved / ignored) over the incidents the database held before
  the request — and the database afterwards must hold exactly the simulated incidents, alert, timeline and
  outbox rows. A refusal (4xx) must leave the database untouched. Nothing may answer 5xx or a non-JSON body.

The regression tests at the bottom pin two bugs this fuzzer found: JSON values jsonb cannot store (NaN, NUL,
lone surrogates) once answered 503, and a non-ASCII routing key crashed the token lookup with a 500.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from schemathesis.core import NotSet
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, note, settings
from hypothesis import event as _event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)
from sqlalchemy import text
from sqlmodel import Session

from opsknight import db
from opsknight.api import create_api
from opsknight.config import reset_settings
from opsknight.engine import clock, heartbeats
from opsknight.engine.ingest import ingest
from opsknight.engine.normalize import NORMALIZERS, Action, NormalizedAlert, PayloadError
from opsknight.engine.normalize import events_v2 as events_v2_normalizer
from opsknight.models import Alert, Incident, Integration, OutboxJob, TimelineEvent
from tests.factories import make_integration, make_service
from tests.integration.conftest import FIXTURES

APP = create_api()
WEBHOOK_PATHS = r"^/api/(webhooks/.+|v2/enqueue)$"
SCHEMA = schemathesis.openapi.from_asgi("/api/openapi.json", APP).include(path_regex=WEBHOOK_PATHS)

ALERT_SOURCES = ("prometheus", "grafana", "datadog", "generic")
ENDPOINTS = (*ALERT_SOURCES, "events_v2", "heartbeat")
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much,
          HealthCheck.data_too_large]
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=HEALTH)

FIXTURE_DOCS = {p.name: json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))}
OWN_FIXTURES = {
    "prometheus": [n for n in FIXTURE_DOCS if n.startswith("alertmanager")],
    "grafana": [n for n in FIXTURE_DOCS if n.startswith("grafana")],
    "datadog": [n for n in FIXTURE_DOCS if n.startswith("datadog")],
    "generic": [n for n in FIXTURE_DOCS if n.startswith("generic")],
    "events_v2": [n for n in FIXTURE_DOCS if n.startswith("pd-events-v2")],
}


# --- the world: one service, an integration (token) per source -----------------------------------------


@dataclass
class World:
    client: TestClient
    service_id: int
    tokens: dict[str, str]  # endpoint -> token of an integration of that source type
    heartbeat_id: int

    def url(self, endpoint: str) -> str:
        if endpoint == "events_v2":
            return "/api/v2/enqueue"
        if endpoint == "heartbeat":
            return f"/api/webhooks/heartbeat/{self.heartbeat_id}"
        return f"/api/webhooks/{endpoint}"


@pytest.fixture
def world(pg, session, monkeypatch) -> Iterator[World]:
    monkeypatch.setenv("OPSKNIGHT_ENQUEUE_RATE_PER_MINUTE", "1000000")  # the fuzzer is not a rate-limit test
    reset_settings()
    service = make_service(session)
    tokens = {source: make_integration(session, service, source)[0] for source in (*ALERT_SOURCES, "events_v2")}
    tokens["heartbeat"], heartbeat = make_integration(session, service, "heartbeat", heartbeat_interval_seconds=60)
    with TestClient(APP, raise_server_exceptions=False) as client:  # one event-loop thread for all requests
        yield World(client, service.id, tokens, heartbeat.id)


# --- database snapshots -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snap:
    incidents: dict[int, tuple[str, str, int]]  # number -> (dedup_key, status, alert_count)
    alerts: int
    outbox: int
    timeline: int
    heartbeat_at: datetime | None

    def open_by_key(self) -> dict[str, int]:
        return {key: number for number, (key, status, _) in self.incidents.items() if status != "resolved"}


_COUNTS = text(
    f"SELECT (SELECT count(*) FROM {Alert.__tablename__}), (SELECT count(*) FROM {OutboxJob.__tablename__}), "
    f"(SELECT count(*) FROM {TimelineEvent.__tablename__}), "
    f"(SELECT last_heartbeat_at FROM {Integration.__tablename__} WHERE id = :hb)")
_INCIDENTS = text(f"SELECT number, dedup_key, status, alert_count FROM {Incident.__tablename__}")


def snap(world: World) -> Snap:
    with db.engine().connect() as conn:
        incidents = {n: (k, s, c) for n, k, s, c in conn.execute(_INCIDENTS)}
        alerts, outbox, timeline, heartbeat_at = conn.execute(_COUNTS, {"hb": world.heartbeat_id}).one()
    return Snap(incidents, alerts, outbox, timeline, heartbeat_at)


# --- the model --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    action: str
    dedup_key: str
    outcome: str
    number: Any  # an existing incident number, ("new", i) for one the request creates, or None


def simulate(before: Snap, alerts: list[tuple[str, str]]) -> tuple[list[Outcome], dict[Any, list]]:
    """What ingest must do with (action, dedup_key) pairs, in order, given the incidents before."""
    open_by_key = before.open_by_key()
    state: dict[Any, list] = {n: [k, s, c] for n, (k, s, c) in before.incidents.items()}
    fresh = itertools.count()
    outcomes = []
    for action, key in alerts:
        number = open_by_key.get(key)
        if number is None:
            if action != "trigger":
                outcomes.append(Outcome(action, key, "ignored", None))
                continue
            number = ("new", next(fresh))
            state[number] = [key, "triggered", 1]
            open_by_key[key] = number
            outcomes.append(Outcome(action, key, "created", number))
            continue
        incident = state[number]
        incident[2] += 1
        outcome = "attached"
        if action == "acknowledge" and incident[1] == "triggered":
            incident[1], outcome = "acknowledged", "acknowledged"
        elif action == "resolve":
            incident[1], outcome = "resolved", "resolved"
            del open_by_key[key]
        outcomes.append(Outcome(action, key, outcome, number))
    return outcomes, state


def check_database(before: Snap, after: Snap, outcomes: list[Outcome], state: dict[Any, list],
                   numbers: dict[Any, int]) -> None:
    """The database after == the simulated state; `numbers` maps ("new", i) to the numbers the app gave."""
    expected = {numbers.get(n, n): tuple(v) for n, v in state.items()}
    assert after.incidents == expected
    applied = sum(1 for o in outcomes if o.outcome != "ignored")
    created = sum(1 for o in outcomes if o.outcome == "created")
    assert after.alerts - before.alerts == applied
    assert after.timeline - before.timeline == applied  # one timeline event per applied alert
    assert after.outbox - before.outbox == created  # the service is not in maintenance: each new incident pages


def assert_untouched(before: Snap, after: Snap) -> None:
    assert (after.incidents, after.alerts, after.outbox, after.timeline) == (
        before.incidents, before.alerts, before.outbox, before.timeline), "a refused request changed the database"


# --- the oracle: expected status from the body, with the pure normalizers ---------------------------------


def parse(body: bytes) -> tuple[bool, Any]:
    if not body.strip():
        return False, None
    try:
        return True, json.loads(body)
    except (ValueError, RecursionError):
        return False, None


def event(value: str) -> None:
    """hypothesis.event (statistics: --hypothesis-show-statistics), also usable outside @given tests."""
    if currently_in_test_context():
        _event(value)


def is_json_response(response) -> Any:
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"{response.status_code} is not JSON: {response.headers.get('content-type')} {response.text[:300]!r}")
    return response.json()


# --- strategies -------------------------------------------------------------------------------------------
# Valid bodies of each sender's shape (varied within what the sender may send), then the same mutated: most
# requests are near the valid region, where the state machine and the field checks live.

SAFE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
NONBLANK = st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 .:/_-]{0,30}", fullmatch=True),
                     st.sampled_from(["disk full", "🔥 cpu hot", "<script>x</script>", "a\u202eb", "ünïcödé",
                                      "y" * 1100]))
WORDS = [
    "firing", "resolved", "trigger", "acknowledge", "resolve", "critical", "error", "warning", "info", "warn",
    "P1", "P3", "P5", "Triggered", "Re-Triggered", "Recovered", "Warn", "No Data", "Renotify", "alerting", "ok",
    "no_data", "pending", "paused", "0001-01-01T00:00:00Z", "2026-11-20T03:12:05.412Z", "1763719200000",
    "1763719200", "-1", "0", "1e308", "", " ", "\n\t", "x" * 300, "y" * 1100, "$ALERT_ID", "$ALERT_TRANSITION",
    "javascript:alert(1)", "https://ok.example/runbook", "http://[::1", "\u202eevil", "a\u2028b", "\x1b[31m",
    "🔥 disk", "null", "true", "NaN", "group:abc", "sha256:", "heartbeat:1",
]
FIELDS = [
    "alerts", "status", "labels", "annotations", "fingerprint", "startsAt", "endsAt", "generatorURL", "groupKey",
    "version", "receiver", "commonLabels", "state", "title", "message", "orgId", "values", "ruleId", "ruleName",
    "evalMatches", "alert_id", "alert_cycle_key", "alert_transition", "alert_priority", "tags", "hostname",
    "summary", "severity", "action", "dedup_key", "source", "details", "links", "timestamp", "routing_key",
    "event_action", "payload", "images", "client", "client_url", "custom_details", "href", "src", "text",
]
KEYS = ["k1", "k2", "k3", "db-01/disk", "a3c91f5e2b7d4c10", "5e0d77a1c4f93b28"]  # small pool: states collide
TIMES = st.one_of(st.sampled_from(["2026-11-20T03:12:05.412Z", "2026-11-20T03:12:05+02:00", "2026-11-20 03:12:05",
                                   "1763719200", "1763719200000"]),
                  st.integers(1, 2_000_000_000), st.floats(1, 2e9))
URLS = st.sampled_from(["https://ok.example/runbook", "http://prometheus:9090/graph?g0.expr=up", "javascript:x()",
                        "ftp://old.example", "", "not a url"])


def scalars(tokens: list[str]):
    return st.one_of(
        st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.integers(-10, 10),
        st.floats(allow_nan=False, allow_infinity=False), SAFE_TEXT,
        st.sampled_from(WORDS + KEYS), st.sampled_from(tokens),
    )


def json_values(tokens: list[str]):
    keys = st.one_of(st.sampled_from(FIELDS), SAFE_TEXT)
    return st.recursive(scalars(tokens), lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)), max_leaves=25)


def details(tokens: list[str]):
    return st.dictionaries(st.one_of(st.sampled_from(FIELDS), SAFE_TEXT), json_values(tokens), max_size=4)


def am_alert(tokens):
    return st.fixed_dictionaries({
        "status": st.sampled_from(["firing", "firing", "resolved"]),
        "labels": st.fixed_dictionaries({"alertname": st.sampled_from(["HighErrorRate", "DiskFull"])}, optional={
            "instance": st.sampled_from(["db-01:9100", "db-02:9100"]),
            "severity": st.sampled_from(["critical", "warning", "info", "page", "P2"]), "job": NONBLANK}),
    }, optional={
        "annotations": st.fixed_dictionaries({}, optional={
            "summary": NONBLANK, "description": SAFE_TEXT, "runbook_url": URLS, "dashboard": URLS}),
        "fingerprint": st.sampled_from(KEYS),
        "startsAt": TIMES, "endsAt": st.one_of(st.just("0001-01-01T00:00:00Z"), TIMES), "generatorURL": URLS,
        # Grafana's per-alert extras (harmless for Alertmanager)
        "values": st.dictionaries(st.sampled_from(["A", "B"]), st.floats(-1e6, 1e6), max_size=2),
        "silenceURL": URLS, "dashboardURL": URLS, "panelURL": URLS, "imageURL": URLS, "valueString": SAFE_TEXT,
    })


def alertmanager_body(tokens, grafana: bool = False):
    extras = {"orgId": st.integers(1, 3), "state": st.sampled_from(["alerting", "ok"]), "title": SAFE_TEXT,
              "message": SAFE_TEXT} if grafana else {}
    return st.fixed_dictionaries({"alerts": st.lists(am_alert(tokens), max_size=4)}, optional={
        "version": st.just("1" if grafana else "4"), "status": st.sampled_from(["firing", "resolved"]),
        "groupKey": NONBLANK, "receiver": NONBLANK, "externalURL": URLS, "truncatedAlerts": st.integers(0, 3),
        "groupLabels": st.dictionaries(st.just("alertname"), NONBLANK, max_size=1),
        "commonLabels": st.dictionaries(st.sampled_from(["alertname", "instance", "job"]), NONBLANK, max_size=3),
        "commonAnnotations": st.dictionaries(st.sampled_from(["summary", "description"]), NONBLANK, max_size=2),
        **extras,
    })


def grafana_legacy_body(tokens):
    return st.fixed_dictionaries({
        "state": st.sampled_from(["alerting", "alerting", "ok", "no_data", "pending", "paused"]),
        "ruleName": NONBLANK,
    }, optional={
        "ruleId": st.integers(0, 3), "ruleUrl": URLS, "title": SAFE_TEXT, "message": SAFE_TEXT,
        "evalMatches": st.lists(st.fixed_dictionaries(
            {"metric": NONBLANK, "value": st.one_of(st.integers(), st.floats(-1e9, 1e9), st.none()),
             "tags": st.dictionaries(NONBLANK, NONBLANK, max_size=2)}), max_size=3),
        "tags": st.dictionaries(st.sampled_from(["severity", "team"]), st.sampled_from(["critical", "web"]),
                                max_size=2),
        "dashboardId": st.integers(0, 9), "panelId": st.integers(0, 9), "orgId": st.integers(1, 3), "imageUrl": URLS,
    })


def datadog_body(tokens):
    return st.fixed_dictionaries({
        "alert_transition": st.sampled_from(["Triggered", "Re-Triggered", "Recovered", "Recovered", "Warn",
                                             "Re-Warn", "No Data", "Renotify", "Null"]),
        "alert_cycle_key": st.one_of(st.sampled_from(KEYS), st.just("$ALERT_CYCLE_KEY")),
        "alert_id": st.sampled_from(["81234567", "42"]),
        "title": NONBLANK,
    }, optional={
        "alert_priority": st.sampled_from(["P1", "P2", "P3", "P4", "P5", "", "$ALERT_PRIORITY"]),
        "body": SAFE_TEXT, "hostname": NONBLANK, "link": URLS, "tags": st.sampled_from(["env:prod,team:edge", "", ","]),
        "date": TIMES, "org": st.fixed_dictionaries({"id": NONBLANK, "name": NONBLANK}), "custom": json_values(tokens),
    })


def generic_item(tokens):
    return st.fixed_dictionaries({"summary": NONBLANK}, optional={
        "severity": st.sampled_from(["critical", "error", "warning", "info", "warn", "p1", "high", "??", ""]),
        "action": st.sampled_from(["trigger", "trigger", "acknowledge", "resolve"]),
        "dedup_key": st.sampled_from(KEYS), "source": NONBLANK, "details": details(tokens),
        "links": st.lists(st.one_of(URLS, st.fixed_dictionaries({"href": URLS}, optional={"text": SAFE_TEXT})),
                          max_size=3),
        "timestamp": TIMES, "unknown_field": json_values(tokens),
    })


def generic_body(tokens):
    return st.one_of(generic_item(tokens), st.lists(generic_item(tokens), max_size=5))


def events_v2_body(tokens, own_token: str):
    payload = st.fixed_dictionaries({
        "summary": NONBLANK, "source": NONBLANK, "severity": st.sampled_from(["critical", "error", "warning", "info"]),
    }, optional={"timestamp": st.sampled_from(["2026-11-21T10:00:00Z", "2026-11-21T10:00:00.123+01:00"]),
                 "component": NONBLANK, "group": NONBLANK, "class": NONBLANK, "custom_details": details(tokens)})
    keys = st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS), st.just("z" * 255))
    optional = {
        "links": st.lists(st.fixed_dictionaries({"href": URLS}, optional={"text": SAFE_TEXT}), max_size=2),
        "images": st.lists(st.fixed_dictionaries({"src": URLS}, optional={"href": URLS, "alt": SAFE_TEXT}),
                           max_size=2),
        "client": NONBLANK, "client_url": URLS,
    }
    trigger = st.fixed_dictionaries({"routing_key": st.just(own_token), "event_action": st.just("trigger"),
                                     "payload": payload}, optional={"dedup_key": keys, **optional})
    other = st.fixed_dictionaries({"routing_key": st.just(own_token),
                                   "event_action": st.sampled_from(["acknowledge", "resolve"]), "dedup_key": keys},
                                  optional={"payload": payload, **optional})
    return st.one_of(trigger, other)


def structured(endpoint: str, tokens: list[str], own_token: str):
    if endpoint == "prometheus":
        return alertmanager_body(tokens)
    if endpoint == "grafana":
        return st.one_of(alertmanager_body(tokens, grafana=True), grafana_legacy_body(tokens))
    if endpoint == "datadog":
        return datadog_body(tokens)
    if endpoint == "generic":
        return generic_body(tokens)
    return events_v2_body(tokens, own_token)


def _paths(value: Any, prefix: tuple = ()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutated(draw, base: Any, tokens: list[str]) -> Any:
    """1-4 structural mutations of a valid document: replace, delete, insert, duplicate, retype."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(_paths(doc))))
        op = draw(st.sampled_from(["replace", "replace", "delete", "insert", "duplicate", "retype"]))
        if not path:
            if op == "replace":
                doc = draw(json_values(tokens))
            elif op == "retype":
                doc = [doc]
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last, current = path[-1], parent[path[-1]]
        if op == "replace":
            parent[last] = draw(st.one_of(scalars(tokens), json_values(tokens)))
        elif op == "delete":
            del parent[last]
        elif op == "insert" and isinstance(current, dict):
            current[draw(st.one_of(st.sampled_from(FIELDS), SAFE_TEXT))] = draw(scalars(tokens))
        elif op == "insert" and isinstance(current, list):
            current.insert(draw(st.integers(0, len(current))), draw(json_values(tokens)))
        elif op == "duplicate" and isinstance(current, list) and current:
            current.append(copy.deepcopy(draw(st.sampled_from(current))))
        elif op == "retype":
            parent[last] = draw(st.sampled_from([
                [current], json.dumps(current), str(current), None,
                current.get(next(iter(current)), None) if isinstance(current, dict) and current else {},
            ]))
    return doc


@st.composite
def byte_mutated(draw, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        op = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:at + draw(st.integers(1, 8))]
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"{", b"}", b"[", b"]", b",", b'"', b"\\", b":", b"null", b"\xff",
                                                b"\xc3", b"1e999", b"-", b" "]))
        else:
            del data[at:]
    return bytes(data)


def fixture_doc(name: str, own_token: str) -> Any:
    doc = copy.deepcopy(FIXTURE_DOCS[name])
    if isinstance(doc, dict) and doc.get("routing_key") == "REPLACE_WITH_SERVICE_TOKEN":
        doc["routing_key"] = own_token
    return doc


def weighted(*choices: tuple[int, Any]):
    """Pick a strategy with these weights (`one_of` weighs its distinct branches equally)."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(lambda s: s)


def bodies(endpoint: str, world: World):
    """Raw request bodies for one endpoint (bytes): mostly valid or almost valid, some anything at all."""
    tokens = list(world.tokens.values())
    own = world.tokens["events_v2"]
    names = OWN_FIXTURES.get(endpoint) or list(FIXTURE_DOCS)
    valid = structured(endpoint, tokens, own)
    docs = weighted(
        (40, valid),
        (25, valid.flatmap(lambda doc: mutated(doc, tokens))),
        (5, st.sampled_from(names).map(lambda n: fixture_doc(n, own))),
        (15, st.sampled_from(names).flatmap(lambda n: mutated(fixture_doc(n, own), tokens))),
        (5, st.sampled_from(list(FIXTURE_DOCS)).flatmap(lambda n: mutated(fixture_doc(n, own), tokens))),
        (10, json_values(tokens)),
    )
    encoded = st.tuples(docs, st.booleans()).map(lambda d: json.dumps(d[0], ensure_ascii=d[1]).encode())
    return weighted(
        (88, encoded),
        (6, st.sampled_from(list(FIXTURE_DOCS)).flatmap(
            lambda n: byte_mutated(json.dumps(fixture_doc(n, own)).encode()))),
        (3, st.binary(max_size=64)),
        (3, st.sampled_from([b"", b"   ", b"null", b"[]", b"{}", b"0", b'""', b"[{}]"])),
    )


AUTH_MODES = ["bearer"] * 9 + ["basic", "query", "none", "garbage", "other_source"]


def request_args(endpoint: str, world: World, mode: str) -> tuple[str, dict[str, str], str | None]:
    """(url, headers, the token the app will see) for an auth mode."""
    own = world.tokens[endpoint]
    token = {"garbage": "okt_not-a-real-token-aaaaaaaaaaa", "none": None,
             "other_source": world.tokens["generic" if endpoint != "generic" else "datadog"]}.get(mode, own)
    url, headers = world.url(endpoint), {"Content-Type": "application/json"}
    if token is not None:
        if mode == "basic":
            headers["Authorization"] = "Basic " + base64.b64encode(f"monitor:{token}".encode()).decode()
        elif mode == "query":
            url += f"?token={token}"
        else:
            headers["Authorization"] = f"Bearer {token}"
    return url, headers, token


def auth_error(world: World, endpoint: str, token: str | None) -> tuple[int, str] | None:
    """What the app must answer for this token (None: authenticated). Token lookup is by exact value."""
    if not token:
        return 401, "missing_token"
    owner = next((e for e, t in world.tokens.items() if t == token), None)
    if owner is None:
        return 401, "invalid_token"
    if owner != endpoint:
        return 403, "wrong_endpoint"
    return None


# --- the hypothesis fuzzer --------------------------------------------------------------------------------


def _check_alerting(world: World, endpoint: str, body: bytes, mode: str, response, before: Snap, after: Snap):
    _, _, token = request_args(endpoint, world, mode)
    payload = is_json_response(response)
    refusal = auth_error(world, endpoint, token)  # alerting endpoints authenticate before reading the shape
    alerts: list[NormalizedAlert] | None = None
    if refusal is None:
        ok, parsed = parse(body)
        if not ok:
            refusal = 400, "invalid_json"
        else:
            try:
                alerts = NORMALIZERS[endpoint](parsed, options={})
            except PayloadError:
                refusal = 400, "invalid_payload"
    if refusal is not None:
        assert (response.status_code, payload["error"]["code"]) == refusal, payload
        assert isinstance(payload["error"]["message"], str) and isinstance(payload["error"]["fields"], list)
        if refusal[1] == "invalid_payload":
            assert payload["error"]["fields"], "a shape error names its fields"
        assert_untouched(before, after)
        return
    assert response.status_code == 202, payload
    outcomes, state = simulate(before, [(str(a.action), a.dedup_key) for a in alerts])
    assert payload["status"] == "accepted" and payload["alerts"] == len(alerts)
    got = payload["incidents"]
    assert len(got) == min(len(alerts), 100)
    numbers: dict[Any, int] = {}
    for expected, actual in zip(outcomes, got, strict=False):
        assert (actual["action"], actual["dedup_key"], actual["outcome"]) == (
            expected.action, expected.dedup_key, expected.outcome), (expected, actual)
        if expected.number is None:
            assert actual["incident_number"] is None
        elif isinstance(expected.number, tuple):
            assigned = numbers.setdefault(expected.number, actual["incident_number"])
            assert actual["incident_number"] == assigned and assigned not in before.incidents
        else:
            assert actual["incident_number"] == expected.number
    assert len(set(numbers.values())) == len(numbers)
    for outcome in {o.outcome for o in outcomes}:
        event(f"outcome {outcome}")
    if len(alerts) <= 100:
        check_database(before, after, outcomes, state, numbers)


def _check_events_v2(world: World, body: bytes, response, before: Snap, after: Snap):
    payload = is_json_response(response)
    ok, parsed = parse(body)
    refusal: tuple[int, str] | None = None
    alert = None
    if not ok:
        refusal = 400, "invalid event"
    else:
        try:
            (alert,) = events_v2_normalizer.normalize(parsed, options={"new_dedup_key": "<generated>"})
        except PayloadError:
            refusal = 400, "invalid event"
    if refusal is None:  # Events v2 validates first, then authenticates the routing_key
        refusal = auth_error(world, "events_v2", events_v2_normalizer.routing_key(parsed) or None)
    if refusal is not None:
        assert (response.status_code, payload["status"]) == refusal, payload
        assert isinstance(payload["message"], str) and payload["errors"] and isinstance(payload["errors"], list)
        assert_untouched(before, after)
        return
    assert response.status_code == 202, payload
    assert payload["status"] == "success" and payload["message"] == "Event processed"
    key = alert.dedup_key
    if key == "<generated>":
        key = payload["dedup_key"]
        assert re.fullmatch(r"[0-9a-f]{32}", key) and key not in before.open_by_key()
    assert payload["dedup_key"] == key
    outcomes, state = simulate(before, [(str(alert.action), key)])
    event(f"outcome {outcomes[0].outcome}")
    new = [n for n in after.incidents if n not in before.incidents]
    numbers = {("new", 0): new[0]} if len(new) == 1 else {}
    check_database(before, after, outcomes, state, numbers)


@pytest.mark.parametrize("endpoint", [*ALERT_SOURCES, "events_v2"])
@FUZZ
@given(data=st.data())
def test_fuzz_webhook_endpoint_against_the_model(world, endpoint, data):
    body = data.draw(bodies(endpoint, world), label="body")
    ok, parsed = parse(body)
    mode = "bearer" if endpoint == "events_v2" else data.draw(st.sampled_from(AUTH_MODES), label="auth")
    url, headers, _ = request_args(endpoint, world, mode)
    if endpoint == "events_v2":
        headers.pop("Authorization", None)  # Events v2 carries the token in the body
    note(f"POST {url} {body[:500]!r}")
    before = snap(world)
    response = world.client.post(url, content=body, headers=headers)
    after = snap(world)
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    event(f"status {response.status_code}")
    if endpoint == "events_v2":
        _check_events_v2(world, body, response, before, after)
    else:
        _check_alerting(world, endpoint, body, mode, response, before, after)


def _open_heartbeat_incident(world: World) -> None:
    with Session(db.engine(), expire_on_commit=False) as s:
        integration = s.get(Integration, world.heartbeat_id)
        miss = NormalizedAlert(action=Action.TRIGGER, dedup_key=heartbeats.dedup_key(integration),
                               summary="Heartbeat missed", severity="critical", source="heartbeat")
        ingest(s, integration, [miss], b"", clock.now())
        s.commit()


@FUZZ
@given(data=st.data())
def test_fuzz_heartbeat(world, data):
    body = data.draw(st.one_of(bodies("heartbeat", world), st.binary(max_size=200)), label="body")
    mode = data.draw(st.sampled_from(AUTH_MODES), label="auth")
    if data.draw(st.booleans(), label="missed first") and not snap(world).open_by_key():
        _open_heartbeat_incident(world)
    before = snap(world)
    was_open = bool(before.open_by_key())
    ok, parsed = parse(body)
    url, headers, token = request_args("heartbeat", world, mode)
    response = world.client.request(data.draw(st.sampled_from(["POST", "GET"])), url, content=body or None,
                                    headers=headers)
    after = snap(world)
    assert response.status_code < 500, response.text[:500]
    payload = is_json_response(response)
    refusal = auth_error(world, "heartbeat", token)
    if refusal is not None:
        assert (response.status_code, payload["error"]["code"]) == refusal
        assert_untouched(before, after)
        assert after.heartbeat_at == before.heartbeat_at
        return
    assert response.status_code == 202 and payload == {"status": "ok", "resolved_incident": was_open}
    assert after.heartbeat_at is not None and (before.heartbeat_at is None or after.heartbeat_at >= before.heartbeat_at)
    key = f"heartbeat:{world.heartbeat_id}"
    outcomes, state = simulate(before, [("resolve", key)])
    check_database(before, after, outcomes, state, {})


_SEQUENCES = {
    "trigger-resolve-trigger": ["trigger", "resolve", "trigger"],
    "ack-before-trigger-then-ack-twice": ["acknowledge", "trigger", "acknowledge", "acknowledge", "trigger"],
    "resolve-twice-then-trigger": ["trigger", "resolve", "resolve", "trigger", "resolve"],
}


@pytest.mark.parametrize("endpoint", ["generic", "prometheus"])
@pytest.mark.parametrize("sequence", list(_SEQUENCES))
def test_one_batch_with_repeated_keys_follows_the_model(world, endpoint, sequence):
    """Several events for one key inside one batch apply in order, exactly as if sent one by one."""
    actions = _SEQUENCES[sequence]
    if endpoint == "prometheus":
        actions = [a for a in actions if a != "acknowledge"]  # Alertmanager has no acknowledge
        alerts = [{"status": "resolved" if a == "resolve" else "firing", "fingerprint": key,
                   "labels": {"alertname": "A"}} for key in ("k1", "k2") for a in actions]
        doc: Any = {"version": "4", "status": "firing", "alerts": alerts}
    else:
        doc = [{"summary": "s", "dedup_key": key, "action": a} for key in ("k1", "k2") for a in actions]
    for _ in range(2):  # the second round starts from the state the first left behind
        body = json.dumps(doc).encode()
        before = snap(world)
        response = _post(world, endpoint, body)
        _check_alerting(world, endpoint, body, "bearer", response, before, snap(world))


# --- schemathesis, from the app's OpenAPI document ---------------------------------------------------------


@SCHEMA.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=HEALTH)
def test_schemathesis_webhook_operations(case, world):
    """Bodies generated from the documented request schemas, sent with the endpoint's own token: the answer
    must be documented (status, content type, body schema), never a 5xx, and agree with the model above."""
    path = case.path
    endpoint = ("events_v2" if path == "/api/v2/enqueue" else "heartbeat" if "heartbeat" in path
                else path.rsplit("/", 1)[-1])
    if endpoint == "events_v2" and isinstance(case.body, dict):
        case.body["routing_key"] = world.tokens["events_v2"]
    before = snap(world)
    if endpoint == "heartbeat":
        response = case.call(headers={"Authorization": f"Bearer {world.tokens[endpoint]}"})
    else:
        body = (b"" if isinstance(case.body, NotSet) else case.body if isinstance(case.body, bytes)
                else json.dumps(case.body).encode())  # no body / raw bytes (negative cases) / a JSON value
        response = _post(world, endpoint, body)
    after = snap(world)
    _event(f"status {response.status_code}")  # pytest --hypothesis-show-statistics: how many got through
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance, response_schema_conformance])
    if endpoint == "heartbeat":
        json.loads(response.content)
        if 200 <= response.status_code < 300:  # a ping is accepted only for the token's own id
            assert str(case.path_parameters["integration_id"]) == str(world.heartbeat_id)
            assert after.heartbeat_at is not None
        else:
            assert_untouched(before, after)
    elif endpoint == "events_v2":
        _check_events_v2(world, body, response, before, after)
    else:
        _check_alerting(world, endpoint, body, "bearer", response, before, after)


# --- edge cases the generators do not reach, and known bugs -----------------------------------------------


def _post(world: World, endpoint: str, body: bytes):
    url, headers, _ = request_args(endpoint, world, "bearer")
    if endpoint == "events_v2":
        headers.pop("Authorization")
    return world.client.post(url, content=body, headers=headers)


@pytest.mark.parametrize("endpoint", [*ALERT_SOURCES, "events_v2"])
def test_deeply_nested_and_oversized_bodies_are_refused_or_stored_cleanly(world, endpoint):
    deep = b'{"summary": "x", "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    nested = b'{"summary": "x", "extra": ' + b"[" * 500 + b"]" * 500 + b"}"
    huge = json.dumps({"summary": "x", "blob": "a" * (600 * 1024)}).encode()
    for body, allowed in ((deep, {400}), (nested, {202, 400}), (huge, {413})):
        before = snap(world)
        response = _post(world, endpoint, body)
        assert response.status_code in allowed, response.text[:300]
        is_json_response(response)
        if response.status_code != 202:
            assert_untouched(before, snap(world))


_BUG_BODIES = {
    "NaN": '{"summary": "x", "dedup_key": "k", "details": {"v": NaN}, "alerts": [{"labels": {"v": NaN}}], '
           '"alert_transition": "Triggered", "alert_id": "1", "ruleId": 1, "ruleName": "r", "state": "alerting", '
           '"evalMatches": [{"value": NaN}]}',
    "Infinity": '{"summary": "x", "extra": Infinity, "alerts": [{"labels": {"a": "b"}, "startsAt": 1e999}], '
                '"alert_transition": "Triggered", "alert_id": "1", "ruleId": 1, "state": "alerting"}',
    "NUL": '{"summary": "x\\u0000y", "details": {"a\\u0000": "b\\u0000"}, "alerts": [{"labels": {"a": "\\u0000"}}], '
           '"alert_transition": "Triggered", "alert_id": "\\u0000", "ruleId": 1, "state": "alerting"}',
    "surrogate": '{"summary": "x\\ud800", "source": "\\udfff", "alerts": [{"labels": {"a": "\\ud800"}}], '
                 '"alert_transition": "Triggered", "alert_id": "\\ud800", "ruleId": 1, "state": "alerting"}',
}


@pytest.mark.parametrize("endpoint", ALERT_SOURCES)
@pytest.mark.parametrize("bad", list(_BUG_BODIES))
def test_regression_unstorable_json_values_are_not_a_5xx(world, endpoint, bad):
    before = snap(world)
    response = _post(world, endpoint, _BUG_BODIES[bad].encode())
    assert response.status_code < 500, response.text[:300]  # 2xx (stored, sanitized) or 400, never 503
    if response.status_code != 202:
        assert_untouched(before, snap(world))


@pytest.mark.parametrize("value", ["NaN", '"a\\u0000b"', '"\\ud800"'])
def test_regression_events_v2_unstorable_values(world, value):
    body = ('{"routing_key": "%s", "event_action": "trigger", "dedup_key": "k", "payload": {"summary": "s", '
            '"source": "x", "severity": "info", "custom_details": {"v": %s}}}') % (world.tokens["events_v2"], value)
    assert _post(world, "events_v2", body.encode()).status_code < 500


def test_regression_routing_key_with_lone_surrogate_is_401_json(world):
    body = b'{"routing_key": "\\ud800", "event_action": "trigger", "payload": {"summary": "s", "source": "x", ' \
           b'"severity": "info"}}'
    response = _post(world, "events_v2", body)
    assert response.status_code == 401 and is_json_response(response)["status"] == "invalid_token"


def test_regression_heartbeat_body_with_nul_resolving_an_incident(world):
    _open_heartbeat_incident(world)
    url, headers, _ = request_args("heartbeat", world, "bearer")
    response = world.client.post(url, content=b"ok\x00", headers=headers)
    assert response.status_code == 202, response.text[:300]

