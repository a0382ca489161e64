"""`POST /api/webhooks/{prometheus,grafana,datadog,generic}`: monitors that push alert batches.

Alertmanager, Grafana and Datadog never retry a 4xx, so load and database trouble are answered 503 +
Retry-After; 4xx is kept for what the sender must fix (token, signature, shape, size).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from opsknight.api.webhooks import admission, common, grouping, schemas
from opsknight.engine.normalize import NORMALIZERS, PayloadError
from opsknight.models import Integration

router = APIRouter(tags=["webhooks"])

# URL source -> the integration source types whose tokens it accepts.
SOURCES = {
    "prometheus": {"prometheus"},
    "grafana": {"grafana"},
    "datadog": {"datadog"},
    "generic": {"generic"},
}


def _normalizer(source: str, body: bytes):
    def normalize(integration: Integration):
        parsed = common.parse_json(body)
        try:
            return NORMALIZERS[source](parsed, options=integration.options or {})
        except PayloadError as exc:
            raise common.WebhookError(400, "invalid_payload", f"The {source} payload is invalid",
                                      exc.errors[:50]) from None

    return normalize


async def receive(source: str, request: Request) -> JSONResponse:
    with common.timed(source):
        try:
            async with admission.admitted(request, SOURCES[source]) as (token, body):
                accepted = await grouping.submit(token, SOURCES[source], common.Submission(
                    dict(request.headers), body, _normalizer(source, body)))
        except common.WebhookError as exc:
            return exc.response()
    results = accepted.batch.results
    return JSONResponse(
        {"status": "accepted", "alerts": len(results),
         "incidents": [{"dedup_key": r.dedup_key, "action": r.action, "outcome": r.outcome,
                        "incident_number": r.incident_number} for r in results[:100]]},
        status_code=202,
    )


def _route(source: str):
    async def endpoint(request: Request) -> JSONResponse:
        return await receive(source, request)

    endpoint.__name__ = f"webhook_{source}"
    return endpoint


for _source in SOURCES:
    router.add_api_route(f"/api/webhooks/{_source}", _route(_source), methods=["POST"], status_code=202,
                         summary=f"Receive {_source} alerts", response_class=JSONResponse,
                         openapi_extra=schemas.request_body(schemas.BODIES[_source]),
                         responses={202: schemas.ACCEPTED_ALERTS, **schemas.error_responses(400, 401, 403, 413, 503)})
