"""Grafana webhook contact point: modern Grafana Alerting and the legacy (Grafana <= 7) format.

Modern (see ``tests/fixtures/grafana-alerting.json``): the Alertmanager shape plus ``version: "1"``,
``orgId``, ``title``, ``state``, ``message``; each alert also carries ``silenceURL``, ``dashboardURL``,
``panelURL``, ``imageURL`` and ``values`` (older versions: ``valueString``). Handled exactly like
:mod:`.prometheus` — one alert per entry, its own status, fingerprint dedup, same ``group_by`` option —
with Grafana's extra URLs as links and its values in details.

Legacy::

    {"ruleId": 7, "ruleName": "CPU high", "ruleUrl": "https://grafana/d/x?editPanel=2",
     "state": "alerting", "title": "[Alerting] CPU high", "message": "CPU above 90%",
     "evalMatches": [{"metric": "cpu", "value": 93, "tags": {"host": "web-1"}}]}

One alert keyed ``grafana-rule-{ruleId}`` (without a ruleId: ``grafana-rule-`` + sha256 of ruleName).
``alerting`` and ``no_data`` trigger (``no_data`` as a warning), ``ok`` resolves, ``pending`` and
``paused`` are not events and return ``[]``.

The format is told apart by the ``alerts`` key (modern) versus ``ruleId``/``ruleName``/``state`` (legacy).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from .common import (
    Action,
    NormalizedAlert,
    PayloadError,
    describe,
    first_text,
    make_alert,
    map_severity,
    require_object,
)
from .prometheus import Flavor, normalize_alertmanager_shape

GRAFANA = Flavor(
    name="grafana",
    label="Grafana alert",
    alert_links=(
        ("generatorURL", "Alert rule"),
        ("dashboardURL", "Dashboard"),
        ("panelURL", "Panel"),
        ("silenceURL", "Silence"),
        ("imageURL", "Image"),
    ),
    alert_details=("values", "valueString", "silenceURL", "dashboardURL", "panelURL", "imageURL"),
    payload_details=("orgId", "title", "state", "message"),
)

_LEGACY_STATES = {"alerting": Action.TRIGGER, "no_data": Action.TRIGGER, "ok": Action.RESOLVE}
_LEGACY_IGNORED = ("pending", "paused")
_LEGACY_DETAILS = ("ruleId", "ruleName", "ruleUrl", "state", "title", "message", "evalMatches", "tags",
                   "dashboardId", "panelId", "orgId", "imageUrl")


def normalize(body: Any, *, options: Mapping[str, Any] | None = None) -> list[NormalizedAlert]:
    """Grafana payload (modern or legacy) -> alerts. Raises PayloadError on a wrong shape."""
    payload = require_object(body)
    if "alerts" in payload:
        return normalize_alertmanager_shape(payload, options=options, flavor=GRAFANA)
    if any(key in payload for key in ("ruleId", "ruleName", "state")):
        return _legacy(payload)
    raise PayloadError(
        "expected Grafana Alerting (an 'alerts' list) or the legacy format (ruleId/ruleName/state)"
    )


def _legacy(payload: Mapping[str, Any]) -> list[NormalizedAlert]:
    errors = []
    state = payload.get("state")
    if not isinstance(state, str) or state not in (*_LEGACY_STATES, *_LEGACY_IGNORED):
        errors.append(f"state must be one of alerting, ok, no_data, pending, paused; got {describe(state)}")
    rule_id = first_text(payload.get("ruleId"))
    rule_name = first_text(payload.get("ruleName"))
    if rule_id is None and rule_name is None:
        errors.append("ruleId or ruleName is required")
    if payload.get("evalMatches") is not None and not isinstance(payload["evalMatches"], list):
        errors.append("evalMatches must be a list")
    if errors:
        raise PayloadError(errors)
    if state in _LEGACY_IGNORED:  # not a state change anyone should be paged or un-paged for
        return []
    if rule_id is not None:
        dedup_key = f"grafana-rule-{rule_id}"
    else:
        dedup_key = "grafana-rule-" + hashlib.sha256(rule_name.encode("utf-8", "surrogatepass")).hexdigest()
    tags = payload.get("tags") if isinstance(payload.get("tags"), Mapping) else {}
    severity = "warning" if state == "no_data" else map_severity(tags.get("severity"))
    return [
        make_alert(
            action=_LEGACY_STATES[state],
            dedup_key=dedup_key,
            summary=first_text(rule_name, payload.get("title"), payload.get("message")),
            severity=severity,
            source="grafana",
            details={k: payload[k] for k in _LEGACY_DETAILS if payload.get(k) is not None},
            links=[(payload.get("ruleUrl"), "Grafana rule"), (payload.get("imageUrl"), "Image")],
            fallback_summary="Grafana alert",
            fallback_source="grafana",
        )
    ]
