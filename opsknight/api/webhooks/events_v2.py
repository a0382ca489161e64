"""`POST /api/v2/enqueue`: PagerDuty Events API v2, so any tool that can page PagerDuty can page OpsKnight.

The integration token is the `routing_key`. Answers use PagerDuty's bodies: 202
`{"status": "success", "message": "Event processed", "dedup_key": ...}`, 400 `{"status": "invalid event", ...}`,
and 429 past the per-token rate limit (PagerDuty clients expect and honour it).
"""

from __future__ import annotations

import uuid

import redis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from opsknight import broker
from opsknight.api.webhooks import admission, common, grouping, schemas
from opsknight.config import settings
from opsknight.engine import clock
from opsknight.engine.normalize import PayloadError, events_v2

router = APIRouter(tags=["webhooks"])
SOURCE = "events_v2"


def _pd_error(exc: common.WebhookError) -> JSONResponse:
    if exc.status == 400:
        body = {"status": "invalid event", "message": "Event object is invalid", "errors": exc.errors or [exc.message]}
    else:
        body = {"status": exc.code, "message": exc.message, "errors": exc.errors or [exc.message]}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def check_rate(db, integration) -> None:
    """Fixed one-minute window per integration, counted in Redis. Redis down: let the event through (and for a
    few seconds do not ask it again, see `common.redis_paused`)."""
    if common.redis_paused():
        return
    limit = settings().enqueue_rate_per_minute
    seconds = int(clock.now().timestamp())
    window = seconds // 60
    key = f"opsknight:rate:v2:{integration.id}:{window}"
    try:
        pipe = broker.redis_conn().pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count = pipe.execute()[0]
    except redis.RedisError:
        common.redis_failed()
        return
    if count > limit:
        retry = str(60 - seconds % 60)
        raise common.WebhookError(429, "throttle event", f"More than {limit} events a minute for this routing key",
                                  headers={"Retry-After": retry})


def _counted_once(check):
    """`check` for one request: accept may run its transaction again (a lost dedup race); the event counts once,
    and a refused one stays refused without counting again."""
    done: list[common.WebhookError | None] = []

    def once(db, integration) -> None:
        if not done:
            try:
                check(db, integration)
            except common.WebhookError as refused:
                done.append(refused)
                raise
            done.append(None)
        elif done[0] is not None:
            raise done[0]

    return once


@router.post("/api/v2/enqueue", status_code=202, summary="PagerDuty Events API v2 compatible endpoint",
             openapi_extra=schemas.request_body(schemas.EVENTS_V2),
             responses={202: schemas.ACCEPTED_EVENT,
                        **schemas.error_responses(400, 401, 403, 413, 429, 503, pagerduty=True)})
async def enqueue(request: Request) -> JSONResponse:
    with common.timed(SOURCE):
        try:
            # PagerDuty clients put the token in the body (routing_key); one in the headers is checked first.
            async with admission.admitted(request, {SOURCE}, token_may_be_in_body=True) as (header_token, body):
                parsed = common.parse_json(body)
                try:
                    alerts = events_v2.normalize(parsed, options={"new_dedup_key": uuid.uuid4().hex})
                except PayloadError as exc:
                    raise common.WebhookError(400, "invalid_event", "Event object is invalid", exc.errors) from None
                token = events_v2.routing_key(parsed) or header_token
                await grouping.submit(token, {SOURCE}, common.Submission(
                    dict(request.headers), body, lambda _integration: alerts, _counted_once(check_rate)))
        except common.WebhookError as exc:
            return _pd_error(exc)
    return JSONResponse({"status": "success", "message": "Event processed", "dedup_key": alerts[0].dedup_key},
                        status_code=202)
