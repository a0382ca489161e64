"""The FastAPI app mounted in front of Reflex (``rx.App(api_transformer=...)``): everything under /api/."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException

from opsknight import __version__


def create_api() -> FastAPI:
    from opsknight.api import audit, callbacks, health, incidents, me, policies, schedules, services, teams, users
    from opsknight.api import schedules_admin, session, webhooks

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
    api.include_router(session.router)
    api.include_router(schedules.router)
    api.include_router(schedules_admin.router)
    api.include_router(incidents.router)
    api.include_router(services.router)
    api.include_router(policies.router)
    api.include_router(teams.router)
    api.include_router(audit.router)
    api.include_router(users.router)
    api.include_router(me.router)

    @api.exception_handler(StarletteHTTPException)
    async def shaped_outside_routes(request: Request, exc: StarletteHTTPException):
        """404/405 raised before any route runs: in the REST API's error shape under /api/v1, as before elsewhere
        (webhook senders keep the format they know)."""
        if request.url.path.startswith("/api/v1/"):
            from opsknight.api.errors import ApiError, code_for

            return ApiError(exc.status_code, code_for(exc.status_code), str(exc.detail), headers=exc.headers).response()
        return await http_exception_handler(request, exc)

    return api
