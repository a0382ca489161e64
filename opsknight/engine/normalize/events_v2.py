"""PagerDuty Events API v2 (``POST /api/v2/enqueue``), the lingua franca of monitoring tools.

Example (see ``tests/fixtures/pd-events-v2-trigger.json``)::

    {"routing_key": "<service token>", "event_action": "trigger", "dedup_key": "db-01/replication-lag",
     "payload": {"summary": "Replication lag 312s on db-01", "source": "db-01", "severity": "error",
                 "timestamp": "2026-11-21T10:00:00Z", "component": "postgres", "group": "prod-db",
                 "class": "replication", "custom_details": {"lag_seconds": 312}},
     "images": [{"src": "https://...", "href": "https://...", "alt": "graph"}],
     "links": [{"href": "https://grafana/d/pg", "text": "Postgres dashboard"}],
     "client": "Sample Monitor", "client_url": "https://monitor.example"}

Validated like PagerDuty, collecting *every* problem into ``PayloadError.errors`` (the HTTP layer answers
400 ``{"status": "invalid event", "errors": [...]}``). ``routing_key`` is only shape-checked here; the
HTTP layer authenticates it (see :func:`routing_key`).

A trigger without ``dedup_key`` gets the one the caller passes as ``options["new_dedup_key"]`` (the HTTP
layer passes ``uuid4().hex`` and returns it in the 202), keeping this module free of randomness.
``acknowledge``/``resolve`` require a ``dedup_key`` and ignore ``payload``. ``images`` and ``links`` are
top-level, as in PagerDuty; a link or image whose URL is not http(s) is dropped, not rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import (
    MAX_DEDUP_KEY,
    MAX_SUMMARY,
    SEVERITIES,
    Action,
    NormalizedAlert,
    PayloadError,
    clean_text,
    make_alert,
    parse_time,
    parse_time_checked,
    require_object,
    safe_href,
    type_name,
)

_OPTIONAL_TEXT = ("component", "group", "class")
_ACTIONS = {action.value: action for action in Action}


def routing_key(body: Any) -> str | None:
    """The body's ``routing_key`` if it is a string (for the HTTP layer to authenticate), else None."""
    if isinstance(body, Mapping) and isinstance(body.get("routing_key"), str):
        return body["routing_key"]
    return None


def normalize(body: Any, *, options: Mapping[str, Any] | None = None) -> list[NormalizedAlert]:
    """Events v2 body -> a one-element list. Raises PayloadError listing every problem."""
    event = require_object(body)
    errors: list[str] = []

    key = event.get("routing_key")
    if key is None:
        errors.append("routing_key is required")
    elif not isinstance(key, str):
        errors.append(f"routing_key must be a string, got {type_name(key)}")

    action_raw = event.get("event_action")
    action = _ACTIONS.get(action_raw) if isinstance(action_raw, str) else None
    if action is None:
        errors.append("event_action must be one of trigger, acknowledge, resolve")

    dedup_key = event.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append(f"dedup_key must be a string, got {type_name(dedup_key)}")
        dedup_key = None
    elif isinstance(dedup_key, str) and len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"dedup_key must be at most {MAX_DEDUP_KEY} characters, got {len(dedup_key)}")
    if not dedup_key and action in (Action.ACKNOWLEDGE, Action.RESOLVE):
        errors.append(f"dedup_key is required for {action} events")
    if not dedup_key and action is Action.TRIGGER:
        dedup_key = (options or {}).get("new_dedup_key")
        if not isinstance(dedup_key, str) or not dedup_key:
            errors.append("dedup_key is required (no generated key was supplied)")

    payload = event.get("payload")
    if action is Action.TRIGGER:
        errors += _payload_errors(payload)
    links = _list_errors(event, "links", "href", errors)
    images = _list_errors(event, "images", "src", errors)

    if errors:
        raise PayloadError(errors)
    assert action is not None and isinstance(dedup_key, str)
    return [_alert(event, action, dedup_key, links, images)]


def _payload_errors(payload: Any) -> list[str]:
    if payload is None:
        return ["payload is required for trigger events"]
    if not isinstance(payload, Mapping):
        return [f"payload must be an object, got {type_name(payload)}"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("payload.summary is required and must be a non-empty string")
    elif len(summary) > MAX_SUMMARY:
        errors.append(f"payload.summary must be at most {MAX_SUMMARY} characters, got {len(summary)}")
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("payload.source is required and must be a non-empty string")
    severity = payload.get("severity")
    if not isinstance(severity, str) or severity not in SEVERITIES:
        errors.append("payload.severity must be one of critical, error, warning, info")
    timestamp = payload.get("timestamp")
    if timestamp is not None and (not isinstance(timestamp, str) or not parse_time_checked(timestamp)[0]):
        errors.append("payload.timestamp must be an ISO 8601 timestamp")
    for name in _OPTIONAL_TEXT:
        if payload.get(name) is not None and not isinstance(payload[name], str):
            errors.append(f"payload.{name} must be a string, got {type_name(payload[name])}")
    return errors


def _list_errors(event: Mapping[str, Any], name: str, required: str, errors: list[str]) -> list[Mapping]:
    """Shape-check ``links``/``images`` (list of objects with a string ``required`` field)."""
    items = event.get(name)
    if items is None:
        return []
    if not isinstance(items, list):
        errors.append(f"{name} must be a list, got {type_name(items)}")
        return []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            errors.append(f"{name}[{i}] must be an object, got {type_name(item)}")
        elif not isinstance(item.get(required), str):
            errors.append(f"{name}[{i}].{required} is required and must be a string")
        else:
            for extra in ("href", "text", "alt"):
                if extra != required and item.get(extra) is not None and not isinstance(item[extra], str):
                    errors.append(f"{name}[{i}].{extra} must be a string, got {type_name(item[extra])}")
    return items


def _alert(event: Mapping[str, Any], action: Action, dedup_key: str, links: list, images: list) -> NormalizedAlert:
    payload = event.get("payload") if isinstance(event.get("payload"), Mapping) else {}
    details: dict[str, Any] = {
        k: payload[k] for k in ("component", "group", "class", "custom_details") if payload.get(k) is not None
    }
    shown_images = [
        {k: image[k] for k in ("src", "href", "alt") if image.get(k) is not None}
        for image in images
        if safe_href(image["src"])
    ]
    if shown_images:
        details["images"] = shown_images[:20]
    details.update({k: event[k] for k in ("client", "client_url") if event.get(k) is not None})
    severity = payload.get("severity")
    return make_alert(
        action=action,
        dedup_key=dedup_key,
        summary=payload.get("summary") if isinstance(payload.get("summary"), str) else None,
        # acknowledge/resolve carry no severity of their own; "info" keeps them from looking urgent
        severity=severity if isinstance(severity, str) and severity in SEVERITIES else "info",
        source=payload.get("source") if isinstance(payload.get("source"), str) else None,
        details=details,
        links=[(link["href"], link.get("text")) for link in links]
        + [(image.get("href"), image.get("alt") or "Image") for image in images]
        + [(event.get("client_url"), clean_text(event.get("client"), 255) or "Client")],
        occurred_at=parse_time(payload.get("timestamp")),
        fallback_summary=f"{action} {clean_text(dedup_key, 200)}",
        fallback_source="events-v2",
    )
