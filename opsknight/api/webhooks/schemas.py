"""What the webhook routes document in the OpenAPI document: request bodies and every answer.

The routes read the raw body themselves (the HMAC signature covers its exact bytes, and a wrong shape must get
the sender's own error format), so these JSON Schemas describe the contract for readers and fuzzers; the pure
normalizers in `engine/normalize` are what enforces it. Every schema is open (unknown fields are ignored), and
`tests/unit/test_webhook_schemas.py` checks that each sample payload in tests/fixtures validates against its
route's schema, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any

from opsknight.api.errors import ErrorBody

_TEXT = {"type": "string"}
_ID = {"type": ["string", "integer"]}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_LINK = {"type": "object", "properties": {"href": _TEXT, "text": _TEXT}, "required": ["href"]}
SEVERITY = {"type": "string", "description": "critical | error | warning | info (synonyms such as p1, warn, sev2 "
                                              "understood); unknown or missing counts as error, so it pages"}

_AM_ALERT = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "labels": _LABELS, "annotations": _LABELS, "startsAt": _TEXT, "endsAt": _TEXT, "generatorURL": _TEXT,
        "fingerprint": {**_TEXT, "description": "the dedup key (per alert)"},
    },
}

ALERTMANAGER = {
    "type": "object",
    "description": "Prometheus Alertmanager webhook, payload version 4: one incident per alert fingerprint "
                   "(or per groupKey with the integration option group_by=group_key)",
    "properties": {
        "version": _TEXT, "groupKey": _TEXT, "truncatedAlerts": {"type": "integer"},
        "status": {"type": "string", "enum": ["firing", "resolved"]}, "receiver": _TEXT,
        "groupLabels": _LABELS, "commonLabels": _LABELS, "commonAnnotations": _LABELS, "externalURL": _TEXT,
        "alerts": {"type": "array", "items": _AM_ALERT},
    },
    "required": ["alerts"],
}

GRAFANA = {
    "description": "Grafana Alerting webhook contact point (Alertmanager-like, plus title/message/state), or "
                   "the legacy (Grafana 7 and older) format with ruleId/ruleName/state",
    "anyOf": [
        {**ALERTMANAGER, "properties": {**ALERTMANAGER["properties"], "title": _TEXT, "message": _TEXT,
                                        "state": _TEXT, "orgId": {"type": "integer"}}},
        {"type": "object",
         "properties": {"ruleId": _ID, "ruleName": _TEXT, "title": _TEXT,
                        "message": _TEXT, "ruleUrl": _TEXT, "tags": _LABELS,
                        "state": {"type": "string", "enum": ["alerting", "ok", "no_data", "pending", "paused"]},
                        "evalMatches": {"type": "array", "items": {"type": "object"}}},
         "required": ["state"]},
    ],
}

DATADOG = {
    "type": "object",
    "description": "Datadog Webhooks integration with the payload template in README",
    "properties": {
        "alert_id": _ID, "alert_cycle_key": {**_ID, "description": "the dedup key (alert_id when absent)"},
        "alert_transition": {**_TEXT, "description": "Triggered, Re-Triggered, Warn, Recovered, ..."},
        "alert_priority": _TEXT, "title": _TEXT, "body": _TEXT, "hostname": _TEXT, "link": _TEXT, "tags": _TEXT,
        "date": _TEXT, "org": {"type": "object", "properties": {"id": _TEXT, "name": _TEXT}},
    },
    "required": ["alert_transition"],
}

_GENERIC_ALERT = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "minLength": 1, "description": "cut to 1024 characters"},
        "severity": SEVERITY,
        "action": {"type": "string", "enum": ["trigger", "acknowledge", "resolve"], "default": "trigger"},
        "dedup_key": {**_TEXT, "description": "default: SHA-256 of summary + source"},
        "source": _TEXT, "details": {"type": "object"},
        "links": {"type": "array", "items": {"anyOf": [_LINK, _TEXT]}},
        "timestamp": {"type": ["string", "number"], "description": "ISO 8601 or unix seconds"},
    },
    "required": ["summary"],
}

GENERIC = {
    "description": "One alert, or an array of up to 100",
    "anyOf": [_GENERIC_ALERT, {"type": "array", "items": _GENERIC_ALERT, "minItems": 1, "maxItems": 100}],
}

EVENTS_V2 = {
    "type": "object",
    "description": "PagerDuty Events API v2 event; routing_key is the integration token",
    "properties": {
        "routing_key": _TEXT,
        "event_action": {"type": "string", "enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {**_TEXT, "description": "required for acknowledge/resolve; generated for a trigger without"},
        "payload": {
            "type": "object",
            "properties": {"summary": {"type": "string", "minLength": 1}, "source": {"type": "string", "minLength": 1},
                           "severity": SEVERITY, "timestamp": _TEXT, "component": _TEXT, "group": _TEXT,
                           "class": _TEXT, "custom_details": {}},
            "required": ["summary", "source", "severity"],
        },
        "images": {"type": "array", "items": {"type": "object", "properties": {"src": _TEXT}, "required": ["src"]}},
        "links": {"type": "array", "items": _LINK}, "client": _TEXT, "client_url": _TEXT,
    },
    "required": ["routing_key", "event_action"],
}

BODIES = {"prometheus": ALERTMANAGER, "grafana": GRAFANA, "datadog": DATADOG, "generic": GENERIC}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ACCEPTED_ALERTS = _json("Committed: every alert is stored (the outcome of each, the first 100 listed)", {
    "type": "object", "properties": {
        "status": {"const": "accepted"}, "alerts": {"type": "integer"},
        "incidents": {"type": "array", "items": {"type": "object", "properties": {
            "dedup_key": _TEXT, "action": _TEXT,
            "outcome": {"enum": ["created", "attached", "acknowledged", "resolved", "ignored"]},
            "incident_number": {"type": ["integer", "null"]}}}}}})
ACCEPTED_EVENT = _json("Committed (PagerDuty's answer)", {
    "type": "object", "properties": {"status": {"const": "success"}, "message": _TEXT, "dedup_key": _TEXT}})
PING_RECORDED = _json("Ping recorded; `resolved_incident`: it ended a missed-heartbeat incident", {
    "type": "object", "properties": {"status": {"const": "ok"}, "resolved_incident": {"type": "boolean"}}})

_PD_ERROR = {"type": "object", "properties": {"status": _TEXT, "message": _TEXT,
                                              "errors": {"type": "array", "items": _TEXT}}}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
_WHY = {
    400: "the body is not JSON or not this sender's shape: `fields` says what is wrong; nothing stored",
    401: "missing or unknown token, or a missing/wrong HMAC signature; nothing stored",
    403: "the integration is disabled, or the token belongs to another endpoint; nothing stored",
    404: "the URL's heartbeat id is not a number; nothing stored",
    413: "the body is over the size limit (512 KB by default); nothing stored",
    429: "more events a minute for this routing key than OPSKNIGHT_ENQUEUE_RATE_PER_MINUTE",
    503: "not stored: the database is unavailable or the process is shedding load; retry after Retry-After",
}


def request_body(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def error_responses(*statuses: int, pagerduty: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the refusals a webhook route can answer: the API's own error body, or PagerDuty's."""
    body = {"content": {"application/json": {"schema": _PD_ERROR}}} if pagerduty else {"model": ErrorBody}
    return {status: {**body, "description": _WHY[status],
                     **({"headers": _RETRY_AFTER} if status in (429, 503) else {})} for status in statuses}
