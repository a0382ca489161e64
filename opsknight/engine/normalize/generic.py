"""Generic JSON webhook: the simplest way to send OpsKnight an alert from a script or a tool we don't know.

Shape (one object, or a JSON array of up to 100 of them)::

    {
      "summary":   "Disk 93% full on db-01",   # required, non-empty string (cut to 1024 characters)
      "severity":  "critical",                 # critical | error | warning | info; default "error"
                                               #   (synonyms such as "warn", "p1", "high" are understood)
      "action":    "trigger",                  # trigger | acknowledge | resolve; default "trigger"
      "dedup_key": "db-01/disk",               # optional; default: sha256 of summary + source.
                                               #   Send the same key to resolve what you triggered.
      "source":    "db-01",                    # optional; default "generic"
      "details":   {"free_gb": 12},            # optional object, kept (bounded) on the incident
      "links":     [{"href": "https://grafana/d/db", "text": "Dashboard"}, "https://runbook/disk"],
                                               # optional; objects or plain URL strings, http(s) only
      "timestamp": "2026-11-21T10:00:00Z"      # optional; ISO 8601 or unix seconds
    }

Every problem is reported at once in ``PayloadError.errors``, prefixed with the item's index in a batch
(``"[3].summary is required"``). Unknown fields are ignored; a dedup key longer than 255 characters is
replaced by its SHA-256 (``"sha256:<hex>"``), deterministically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from .common import (
    Action,
    NormalizedAlert,
    PayloadError,
    clean_text,
    make_alert,
    map_severity,
    parse_time_checked,
    type_name,
)

MAX_BATCH = 100
_ACTIONS = {action.value: action for action in Action}


def normalize(body: Any, *, options: Mapping[str, Any] | None = None) -> list[NormalizedAlert]:
    """Generic object or batch -> alerts. Raises PayloadError listing every problem."""
    if isinstance(body, list):
        if len(body) > MAX_BATCH:
            raise PayloadError(f"a batch holds at most {MAX_BATCH} alerts, got {len(body)}")
        items = [(f"[{i}].", item) for i, item in enumerate(body)]
    elif isinstance(body, Mapping):
        items = [("", body)]
    else:
        raise PayloadError(f"body must be a JSON object or an array of objects, got {type_name(body)}")
    errors: list[str] = []
    alerts = [alert for prefix, item in items if (alert := _one(prefix, item, errors)) is not None]
    if errors:
        raise PayloadError(errors)
    return alerts


def _one(prefix: str, item: Any, errors: list[str]) -> NormalizedAlert | None:
    if not isinstance(item, Mapping):
        errors.append(f"{prefix.rstrip('.') or 'body'} must be an object, got {type_name(item)}")
        return None
    found: list[str] = []

    summary = item.get("summary")
    if summary is None:
        found.append("summary is required")
    elif not isinstance(summary, str) or not clean_text(summary, 10):
        found.append("summary must be a non-empty string")

    severity = item.get("severity", "error")
    if not isinstance(severity, str):
        found.append("severity must be one of critical, error, warning, info")

    action = _ACTIONS.get(item.get("action", "trigger")) if isinstance(item.get("action", "trigger"), str) else None
    if action is None:
        found.append("action must be one of trigger, acknowledge, resolve")

    source = item.get("source")
    if source is not None and not isinstance(source, str):
        found.append(f"source must be a string, got {type_name(source)}")
    source_text = clean_text(source, 255) or "generic"

    dedup_key = item.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        found.append(f"dedup_key must be a string, got {type_name(dedup_key)}")

    details = item.get("details")
    if details is not None and not isinstance(details, Mapping):
        found.append(f"details must be an object, got {type_name(details)}")

    links = _links(item.get("links"), found)

    ok, occurred_at = parse_time_checked(item.get("timestamp"))
    if not ok:
        found.append("timestamp must be an ISO 8601 string or unix seconds")

    if found:
        errors.extend(prefix + problem for problem in found)
        return None
    summary_text = clean_text(summary, 1024)
    if not dedup_key:
        dedup_key = hashlib.sha256(f"{summary_text}\n{source_text}".encode()).hexdigest()
    return make_alert(
        action=action,
        dedup_key=dedup_key,
        summary=summary_text,
        severity=map_severity(severity),
        source=source_text,
        details=details or {},
        links=links,
        occurred_at=occurred_at,
        fallback_source="generic",
    )


def _links(value: Any, found: list[str]) -> list[tuple[Any, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        found.append(f"links must be a list, got {type_name(value)}")
        return []
    pairs = []
    for i, link in enumerate(value):
        if isinstance(link, str):
            pairs.append((link, None))
        elif isinstance(link, Mapping) and isinstance(link.get("href"), str):
            pairs.append((link["href"], link.get("text")))
        else:
            found.append(f"links[{i}] must be a URL string or an object with a string href")
    return pairs
