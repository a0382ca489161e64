"""`POST|GET /api/webhooks/heartbeat/{integration_id}`: a ping from a cron job or a monitor's watchdog.

GET is accepted too, because `curl https://.../heartbeat/7?token=...` from a crontab is the common case.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from opsknight import integrations
from opsknight.api.webhooks import admission, common, grouping, schemas
from opsknight.engine import clock, heartbeats
from opsknight.models import SourceType

router = APIRouter(tags=["webhooks"])
SOURCE = "heartbeat"


def _ping(integration_id: int, headers: dict[str, str], body: bytes) -> common.Submission:
    def check(db, integration) -> None:
        if integration.id != integration_id:
            raise common.WebhookError(403, "wrong_endpoint", "This token belongs to another heartbeat")
        integrations.record_ping(db, integration.id, clock.now())

    return common.Submission(headers, body, lambda integration: [heartbeats.ping_alert(integration)], check)


def _heartbeat_id(raw: str) -> int:
    """The id from the URL. Read here rather than by FastAPI, whose 422 for a non-number has a shape of its own;
    a crontab with a typo in its URL gets the same `{"error": ...}` body as every other refusal."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise common.WebhookError(404, "unknown_heartbeat",
                                  "No heartbeat has this id: the URL is /api/webhooks/heartbeat/<heartbeat id>")
    return int(raw)


async def heartbeat(integration_id: str, request: Request) -> JSONResponse:
    with common.timed(SOURCE):
        try:
            heartbeat_id = _heartbeat_id(integration_id)
            async with admission.admitted(request, {SourceType.HEARTBEAT}) as (token, body):
                accepted = await grouping.submit(token, {SourceType.HEARTBEAT},
                                                 _ping(heartbeat_id, dict(request.headers), body))
        except common.WebhookError as exc:
            return exc.response()
    resolved = any(r.outcome == "resolved" for r in accepted.batch.results)
    return JSONResponse({"status": "ok", "resolved_incident": resolved}, status_code=202)


for _method in ("POST", "GET"):
    router.add_api_route("/api/webhooks/heartbeat/{integration_id}", heartbeat, methods=[_method], status_code=202,
                         summary="Heartbeat ping", operation_id=f"heartbeat_{_method.lower()}",
                         responses={202: schemas.PING_RECORDED, **schemas.error_responses(401, 403, 404, 413, 503)})
