"""The FastAPI app mounted in front of Reflex (``rx.App(api_transformer=...)``): everything under /api/."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException

from opsknight import __version__
from opsknight.api.body_limit import BodyLimit


def create_api() -> FastAPI:
    from opsknight.api import audit, callbacks, health, incidents, me, policies, push, schedules, services, teams
    from opsknight.api import schedules_admin, session, status_admin, status_page, users, webhooks

    api = FastAPI(
        title="OpsKnight API",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    api.include_router(health.router)
    for router in webhooks.routers:  # they bound their bodies themselves (OPSKNIGHT_MAX_BODY_BYTES)
        api.include_router(router)
    for router in (callbacks.router, push.router, session.router, schedules.router, schedules_admin.router, incidents.router,
                   services.router, policies.router, teams.router, audit.router, users.router, me.router, status_admin.router):
        api.include_router(router)
    from opsknight.api import analytics

    api.include_router(analytics.router)
    api.add_middleware(BodyLimit)
    api.add_middleware(status_page.StatusPage)  # added last, so it runs first: the public page, cached

    @api.exception_handler(StarletteHTTPException)
    async def shaped_outside_routes(request: Request, exc: StarletteHTTPException):
        """404/405 raised before any route runs: in the REST API's error shape under /api/v1, as before elsewhere
        (webhook senders keep the format they know)."""
        if request.url.path.startswith("/api/v1/"):
            from opsknight.api.errors import ApiError, code_for

            return ApiError(exc.status_code, code_for(exc.status_code), str(exc.detail), headers=exc.headers).response()
        return await http_exception_handler(request, exc)

    return api
