"""The REST API's one error shape: `{"error": {"code", "message", "fields"}}`, for every failure of a route.

Routers opt in with `APIRouter(route_class=ErrorShapedRoute)`: their own `ApiError`s, the admin layer's
`AdminError`s, the auth dependencies' HTTPExceptions and FastAPI's validation errors all come out in that
shape (global handlers stay untouched, so the webhook and provider routes keep the formats their senders
expect).
"""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from opsknight.admin import AdminError

_STATUS_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large"}


def code_for(status: int) -> str:
    return _STATUS_CODES.get(status, "error")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.headers = fields or [], headers

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message, "fields": self.fields}},
                            status_code=self.status, headers=self.headers)


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[str]


class ErrorBody(BaseModel):
    error: ErrorDetail


# Documented on every route: any of them may refuse the input, the caller, or a missing/conflicting row.
ERROR_RESPONSES = {status: {"model": ErrorBody, "description": code.replace("_", " ").capitalize()}
                   for status, code in _STATUS_CODES.items() if status != 405}


class ErrorShapedRoute(APIRoute):
    """Turns this router's HTTPExceptions (auth) and validation errors into the API's error shape."""

    def __init__(self, path: str, endpoint, **kwargs):
        kwargs["responses"] = {**ERROR_RESPONSES, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def shaped(request):
            try:
                return await handler(request)
            except ApiError as exc:
                return exc.response()
            except AdminError as exc:
                return ApiError(exc.status, exc.code, exc.message, exc.fields).response()
            except RequestValidationError as exc:
                fields = [f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')}"
                          for e in exc.errors()]
                return ApiError(400, "invalid_request", "Invalid request parameters", fields).response()
            except StarletteHTTPException as exc:
                message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
                return ApiError(exc.status_code, code_for(exc.status_code), message,
                                headers=exc.headers).response()

        return shaped
