"""Payload normalization: each inbound source's JSON -> a list of :class:`NormalizedAlert`.

Pure: no HTTP, no database, no clock. Every ``normalize(body, *, options=None)`` takes the already
parsed JSON body (any type) and returns a list of alerts or raises :class:`PayloadError` — never any
other exception. The HTTP layer picks the function from :data:`NORMALIZERS` by the URL's source.
"""

from collections.abc import Callable, Mapping
from typing import Any

from . import datadog, events_v2, generic, grafana, prometheus
from .common import (
    Action,
    Link,
    NormalizedAlert,
    PayloadError,
    Urgency,
    bounded_details,
    clean_text,
    map_severity,
    parse_time,
    severity_to_urgency,
)

Normalizer = Callable[..., list[NormalizedAlert]]

NORMALIZERS: Mapping[str, Normalizer] = {
    "prometheus": prometheus.normalize,
    "alertmanager": prometheus.normalize,
    "grafana": grafana.normalize,
    "datadog": datadog.normalize,
    "events_v2": events_v2.normalize,
    "generic": generic.normalize,
}


def normalize(source: str, body: Any, *, options: Mapping[str, Any] | None = None) -> list[NormalizedAlert]:
    """Normalize ``body`` with the named source's normalizer (KeyError for an unknown source)."""
    return NORMALIZERS[source](body, options=options)


__all__ = [
    "NORMALIZERS",
    "Action",
    "Link",
    "NormalizedAlert",
    "PayloadError",
    "Urgency",
    "bounded_details",
    "clean_text",
    "map_severity",
    "normalize",
    "parse_time",
    "severity_to_urgency",
]
