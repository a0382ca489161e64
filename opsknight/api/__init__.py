"""The FastAPI app mounted in front of Reflex (``rx.App(api_transformer=...)``): everything under /api/."""

from __future__ import annotations

from fastapi import FastAPI

from opsknight import __version__


def create_api() -> FastAPI:
    from opsknight.api import callbacks, health, incidents, schedules, schedules_admin, webhooks

    api = FastAPI(
        title="OpsKnight API",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    api.include_router(health.router)
    for router in webhooks.routers:
        api.include_router(router)
    api.include_router(callbacks.router)
    api.include_router(schedules.router)
    api.include_router(schedules_admin.router)
    api.include_router(incidents.router)
    return api
