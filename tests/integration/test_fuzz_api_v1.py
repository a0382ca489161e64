"""Schemathesis over every `/api/v1` operation in the app's own OpenAPI document (`/api/openapi.json`).

Called as an admin (every operation is allowed, so the fuzzer reaches the handlers, not just the auth check),
with a few real rows to hit. Checks: never a 5xx, every response conforms to its declared schema (status code
documented, content type, body), and every refusal comes in the API's error shape.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from opsknight.api import create_api
from opsknight.models import Role
from tests.factories import api_headers, make_integration, make_policy, make_service

APP = create_api()
SCHEMA = schemathesis.openapi.from_asgi("/api/openapi.json", APP).include(path_regex=r"^/api/v1/")
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much,
          HealthCheck.data_too_large]


@pytest.fixture
def admin(session) -> dict:
    policy = make_policy(session)
    service = make_service(session, policy=policy)
    make_integration(session, service, "generic")
    return api_headers(session, Role.ADMIN)


@SCHEMA.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
def test_api_v1_never_fails_and_matches_its_schema(case, admin):
    response = case.call(headers=admin)
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance, response_schema_conformance])
    if response.status_code >= 400:
        body = json.loads(response.content)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, \
            (case.method, case.formatted_path, response.status_code, body)
