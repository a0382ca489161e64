"""The webhook request schemas in the OpenAPI document (api/webhooks/schemas.py) describe what monitors really
send: every sample payload validates against its route's schema, and a body the route refuses for its shape
does not."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

from opsknight.api.webhooks import schemas

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SCHEMA_BY_PREFIX = {"alertmanager": schemas.ALERTMANAGER, "grafana": schemas.GRAFANA, "datadog": schemas.DATADOG,
                    "generic": schemas.GENERIC, "pd-events-v2": schemas.EVENTS_V2}
SAMPLES = sorted(FIXTURES.glob("*.json"))


def _schema_for(path: Path) -> dict:
    return next(schema for prefix, schema in SCHEMA_BY_PREFIX.items() if path.name.startswith(prefix))


def test_every_sender_has_samples():
    assert {prefix for prefix in SCHEMA_BY_PREFIX if any(p.name.startswith(prefix) for p in SAMPLES)} == set(
        SCHEMA_BY_PREFIX)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_a_sample_payload_matches_its_documented_schema(path):
    jsonschema_rs.validate(_schema_for(path), json.loads(path.read_text()))


@pytest.mark.parametrize("schema, body", [
    (schemas.ALERTMANAGER, {"version": "4", "status": "firing"}),  # no alerts
    (schemas.EVENTS_V2, {"routing_key": "okt_x", "event_action": "page"}),
    (schemas.GENERIC, [{"severity": "critical"}]),  # no summary
    (schemas.DATADOG, {"title": "x"}),  # no transition
    (schemas.GRAFANA, {"title": "neither alerts nor a legacy state"}),
])
def test_a_body_of_the_wrong_shape_does_not(schema, body):
    assert not jsonschema_rs.is_valid(schema, body)
