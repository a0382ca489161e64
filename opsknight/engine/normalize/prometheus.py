"""Prometheus Alertmanager webhook (``webhook_config``, payload ``version: "4"``).

Example (see ``tests/fixtures/alertmanager-firing.json``)::

    {"version": "4", "groupKey": "{}:{alertname=\\"HighErrorRate\\"}", "status": "firing",
     "receiver": "opsknight", "externalURL": "http://alertmanager:9093",
     "alerts": [{"status": "firing", "labels": {"alertname": "HighErrorRate", "severity": "critical",
                 "instance": "checkout-7f9c:8080"},
                 "annotations": {"summary": "5xx rate above 5%", "runbook_url": "https://..."},
                 "startsAt": "2026-11-20T03:12:05.412Z", "endsAt": "0001-01-01T00:00:00Z",
                 "generatorURL": "http://prometheus:9090/graph?...", "fingerprint": "a3c91f5e2b7d4c10"}]}

Default: one alert per entry of ``alerts``, each on its **own** ``status`` (a resolved alert can ride
inside a firing group) and deduplicated on its ``fingerprint`` — stable per label set, so the
duplicates an HA Alertmanager pair sends by design are harmless. Without a fingerprint the key is a
SHA-256 of the sorted labels.

Option ``group_by="group_key"`` (default ``None``, i.e. per alert): one incident per Alertmanager group instead. The key is
``"group:" + sha256(groupKey)`` (group keys can be longer than 255 characters) and the action follows
the payload's top-level ``status``.

``version`` "4" is expected, but any version with this shape is accepted: Alertmanager does not retry a
4xx, so rejecting a payload we can read would lose the page. Grafana's contact point sends the same shape
(see :mod:`.grafana`, which reuses :func:`normalize_alertmanager_shape`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .common import (
    SEVERITIES,
    Action,
    NormalizedAlert,
    PayloadError,
    describe,
    first_text,
    make_alert,
    parse_time,
    require_object,
    stable_hash,
    type_name,
)

_STATUS = {"firing": Action.TRIGGER, "resolved": Action.RESOLVE}
# Per-alert fields copied into details, and the annotation fields that become links.
_DETAIL_FIELDS = ("status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint")
_PAYLOAD_DETAIL_FIELDS = ("receiver", "externalURL")
_ANNOTATION_LINKS = (("runbook_url", "Runbook"), ("dashboard", "Dashboard"))


@dataclass(frozen=True)
class Flavor:
    """What differs between senders of the Alertmanager shape."""

    name: str  # fallback ``source``
    label: str  # fallback summary, e.g. "Alertmanager alert"
    alert_links: tuple[tuple[str, str], ...] = (("generatorURL", "Source"),)
    alert_details: tuple[str, ...] = ()
    payload_details: tuple[str, ...] = ()


ALERTMANAGER = Flavor(name="alertmanager", label="Alertmanager alert")


def normalize(body: Any, *, options: Mapping[str, Any] | None = None) -> list[NormalizedAlert]:
    """Alertmanager v4 payload -> alerts (see module docstring). Raises PayloadError on a wrong shape."""
    return normalize_alertmanager_shape(body, options=options, flavor=ALERTMANAGER)


def normalize_alertmanager_shape(
    body: Any, *, options: Mapping[str, Any] | None, flavor: Flavor
) -> list[NormalizedAlert]:
    payload = require_object(body)
    group_by = (options or {}).get("group_by")
    if group_by not in (None, "alert", "fingerprint", "group_key"):
        raise ValueError(f"unknown group_by option {group_by!r} (use 'group_key' or leave unset)")
    alerts = _valid_alerts(payload)
    if not alerts:
        return []
    per_alert = [_alert(payload, alert, flavor) for alert in alerts]
    if group_by == "group_key":
        return [_group(payload, alerts, per_alert, flavor)]
    return per_alert


def _valid_alerts(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``alerts`` list, after checking every entry's shape (all problems reported at once)."""
    if "alerts" not in payload:
        raise PayloadError("alerts is required")
    alerts = payload["alerts"]
    if not isinstance(alerts, list):
        raise PayloadError(f"alerts must be a list, got {type_name(alerts)}")
    errors: list[str] = []
    for i, alert in enumerate(alerts):
        if not isinstance(alert, Mapping):
            errors.append(f"alerts[{i}] must be an object, got {type_name(alert)}")
            continue
        for name in ("labels", "annotations"):
            if alert.get(name) is not None and not isinstance(alert[name], Mapping):
                errors.append(f"alerts[{i}].{name} must be an object, got {type_name(alert[name])}")
        status = _alert_status(payload, alert)
        if not isinstance(status, str) or status not in _STATUS:
            where = f"alerts[{i}].status" if alert.get("status") is not None else "status"
            errors.append(f"{where} must be 'firing' or 'resolved', got {describe(status)}")
    if errors:
        raise PayloadError(errors)
    return alerts


def _alert_status(payload: Mapping[str, Any], alert: Mapping[str, Any]) -> Any:
    """The alert's own status; if absent, the payload's; if both are absent, "firing" (page, don't drop)."""
    return next(s for s in (alert.get("status"), payload.get("status"), "firing") if s is not None)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _alert(payload: Mapping[str, Any], alert: Mapping[str, Any], flavor: Flavor) -> NormalizedAlert:
    labels = _mapping(alert.get("labels"))
    annotations = _mapping(alert.get("annotations"))
    action = _STATUS[_alert_status(payload, alert)]
    fingerprint = first_text(alert.get("fingerprint"))
    instance = first_text(labels.get("instance"))
    summary = first_text(annotations.get("summary"), annotations.get("description"))
    if summary is None and (name := first_text(labels.get("alertname"))):
        summary = f"{name} on {instance}" if instance else name
    details = {k: alert[k] for k in _DETAIL_FIELDS + flavor.alert_details if alert.get(k) is not None}
    for key in _PAYLOAD_DETAIL_FIELDS + flavor.payload_details:
        if payload.get(key) is not None:
            details[key] = payload[key]
    # A resolve happened at endsAt; a trigger at startsAt.
    when = parse_time(alert.get("endsAt")) if action is Action.RESOLVE else parse_time(alert.get("startsAt"))
    return make_alert(
        action=action,
        dedup_key=fingerprint or stable_hash(labels),
        summary=summary,
        severity=labels.get("severity"),
        source=first_text(instance, labels.get("job")),
        details=details,
        links=[(alert.get(k), text) for k, text in flavor.alert_links]
        + [(annotations.get(k), text) for k, text in _ANNOTATION_LINKS],
        occurred_at=when,
        fallback_summary=flavor.label,
        fallback_source=flavor.name,
    )


def _group(
    payload: Mapping[str, Any],
    alerts: Sequence[Mapping[str, Any]],
    per_alert: Sequence[NormalizedAlert],
    flavor: Flavor,
) -> NormalizedAlert:
    """One alert for the whole Alertmanager group (``group_by="group_key"``)."""
    group_key = first_text(payload.get("groupKey"))
    if group_key is None:
        raise PayloadError("groupKey is required when grouping by group_key")
    status = payload.get("status")
    if status is None:  # tolerate a missing top-level status: the group fires while any alert does
        status = "firing" if any(a.action is Action.TRIGGER for a in per_alert) else "resolved"
    if not isinstance(status, str) or status not in _STATUS:
        raise PayloadError(f"status must be 'firing' or 'resolved', got {describe(status)}")
    action = _STATUS[status]
    common_labels = _mapping(payload.get("commonLabels"))
    common_annotations = _mapping(payload.get("commonAnnotations"))
    firing = [a for a in per_alert if a.action is Action.TRIGGER] or list(per_alert)
    # The group is as severe as its most severe firing member.
    severity = min((a.severity for a in firing), key=SEVERITIES.index)
    summary = first_text(
        common_annotations.get("summary"),
        common_annotations.get("description"),
        _mapping(payload.get("groupLabels")).get("alertname"),
        common_labels.get("alertname"),
    ) or firing[0].summary
    if action is Action.TRIGGER:
        times = [a.occurred_at for a in firing if a.occurred_at]
        when = min(times) if times else None
    else:
        times = [a.occurred_at for a in per_alert if a.occurred_at]
        when = max(times) if times else None
    details = {
        k: payload[k]
        for k in ("status", "receiver", "groupKey", "groupLabels", "commonLabels", "commonAnnotations",
                  "externalURL", "truncatedAlerts") + flavor.payload_details
        if payload.get(k) is not None
    }
    details["alerts"] = [
        {k: alert[k] for k in ("status", "labels", "fingerprint", "startsAt", "endsAt") if alert.get(k) is not None}
        for alert in alerts
    ]
    return make_alert(
        action=action,
        dedup_key="group:" + hashlib.sha256(group_key.encode("utf-8", "surrogatepass")).hexdigest(),
        summary=summary,
        severity=severity,
        source=first_text(common_labels.get("instance"), common_labels.get("job")),
        details=details,
        links=[(payload.get("externalURL"), flavor.label.replace(" alert", ""))]
        + [(link.href, link.text) for a in per_alert for link in a.links],
        occurred_at=when,
        fallback_summary=flavor.label,
        fallback_source=flavor.name,
    )
