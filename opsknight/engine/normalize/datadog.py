"""Datadog Webhooks integration, with the payload template we recommend.

Datadog's default webhook body carries no state, so users paste :data:`RECOMMENDED_TEMPLATE` into the
webhook's Payload field (JSON, not "Encode as form"). ``tests/fixtures/datadog-recommended.json`` is what
it produces.

* Dedup on ``alert_cycle_key`` (``$ALERT_CYCLE_KEY``: one id from trigger to recovery, per monitor
  group); fall back to ``alert_id`` (``$ALERT_ID``, the monitor id — coarser: every group of a
  multi-alert monitor then shares one incident).
* ``alert_transition`` (``$ALERT_TRANSITION``): ``Recovered`` resolves; ``Triggered``,
  ``Re-Triggered``, ``Warn``, ``Re-Warn``, ``No Data``, ``Re-No Data``, ``Renotify`` trigger —
  and so does any other value (e.g. ``Null``): paging for an unknown transition beats dropping it.
* Severity from ``alert_priority`` (P1 critical, P2 error, P3 warning, P4/P5 info; none -> error);
  a ``Warn``/``Re-Warn`` transition is always ``warning``.
* ``tags`` (``"env:prod,team:edge"``) becomes a list in ``details.tags``; all other fields of the body
  are kept in details too, since users extend the template with their own.
* A value still reading ``$SOME_VARIABLE`` (not substituted by Datadog) counts as missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import (
    Action,
    NormalizedAlert,
    PayloadError,
    first_text,
    make_alert,
    map_severity,
    parse_time,
    require_object,
)

RECOMMENDED_TEMPLATE = """\
{
  "alert_id": "$ALERT_ID",
  "alert_cycle_key": "$ALERT_CYCLE_KEY",
  "alert_transition": "$ALERT_TRANSITION",
  "alert_priority": "$ALERT_PRIORITY",
  "title": "$ALERT_TITLE",
  "body": "$EVENT_MSG",
  "hostname": "$HOSTNAME",
  "link": "$LINK",
  "tags": "$TAGS",
  "date": "$DATE",
  "org": {"id": "$ORG_ID", "name": "$ORG_NAME"}
}
"""

_RESOLVE = ("recovered",)
_WARN = ("warn", "re-warn")
_UNFILLED = re.compile(r"^\$[A-Z][A-Z0-9_]*$")


def _field(payload: Mapping[str, Any], name: str) -> str | None:
    """Non-blank text of ``payload[name]``, treating an unsubstituted ``$VARIABLE`` as missing."""
    text = first_text(payload.get(name))
    return None if text is None or _UNFILLED.match(text.strip()) else text.strip()


def parse_tags(tags: Any) -> list[str]:
    """``"a:b, c"`` -> ``["a:b", "c"]``; a list is kept (as text); anything else -> ``[]``."""
    if isinstance(tags, str):
        items = tags.split(",")
    elif isinstance(tags, list):
        items = [t for t in tags if isinstance(t, (str, int, float)) and not isinstance(t, bool)]
    else:
        return []
    return [str(t).strip() for t in items if str(t).strip()]


def normalize(body: Any, *, options: Mapping[str, Any] | None = None) -> list[NormalizedAlert]:
    """Datadog webhook body (recommended template) -> one alert. Raises PayloadError naming missing fields."""
    payload = require_object(body)
    transition = _field(payload, "alert_transition")
    key = _field(payload, "alert_cycle_key") or _field(payload, "alert_id")
    errors = []
    if transition is None:
        errors.append("alert_transition is required (use $ALERT_TRANSITION)")
    if key is None:
        errors.append("alert_cycle_key or alert_id is required (use $ALERT_CYCLE_KEY)")
    if errors:
        raise PayloadError(errors)
    lowered = transition.lower()
    action = Action.RESOLVE if lowered in _RESOLVE else Action.TRIGGER
    severity = "warning" if lowered in _WARN else map_severity(_field(payload, "alert_priority"))
    details = dict(payload)
    if "tags" in details:
        details["tags"] = parse_tags(payload["tags"])
    return [
        make_alert(
            action=action,
            dedup_key=key,
            summary=_field(payload, "title") or _field(payload, "body"),
            severity=severity,
            source=_field(payload, "hostname"),
            details=details,
            links=[(_field(payload, "link"), "Datadog")],
            occurred_at=parse_time(_field(payload, "date")),
            fallback_summary=f"Datadog alert {_field(payload, 'alert_id') or key}",
            fallback_source="datadog",
        )
    ]
