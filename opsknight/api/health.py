"""`GET /api/health` (database and Redis reachability with latency) and `GET /metrics` (Prometheus text)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from opsknight import __version__, broker, db

router = APIRouter(tags=["health"])


def _probe(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # report, never raise: health must answer even when everything is down
        return {"ok": False, "error": type(exc).__name__, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _check_database() -> None:
    with db.engine().connect() as conn:
        conn.execute(text("SELECT 1"))


def _check_redis() -> None:
    broker.redis_conn().ping()


@router.get("/api/health", summary="Database and Redis reachability")
async def health(response: Response) -> dict:
    database = await run_in_threadpool(_probe, _check_database)
    redis_ = await run_in_threadpool(_probe, _check_redis)
    ok = database["ok"] and redis_["ok"]
    response.status_code = 200 if ok else 503
    return {"status": "ok" if ok else "degraded", "version": __version__, "database": database, "redis": redis_}


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
