"""A bound on request bodies for the REST API and the provider callbacks (webhooks bound their own, see
`webhooks.admission.read_body`): 413 in the API's error shape, before a byte of an oversized declared body is read,
and as soon as a streamed one passes the limit.
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse

# The biggest legitimate body, a schedule with many layers, is a few tens of KB.
REQUEST_BODY_LIMIT = 1024 * 1024
PREFIXES = ("/api/v1/", "/api/slack/", "/api/twilio/", "/api/ack/", "/api/session/", "/api/push/")
MESSAGE = f"The request body is larger than {REQUEST_BODY_LIMIT} bytes"


class BodyLimit:
    """ASGI middleware. A streamed body that grows past the limit makes `receive` raise an HTTPException(413),
    which FastAPI passes through its body parsing to the route's error handling."""

    def __init__(self, app, limit: int = REQUEST_BODY_LIMIT, prefixes: tuple[str, ...] = PREFIXES):
        self.app, self.limit, self.prefixes = app, limit, prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            response = JSONResponse({"error": {"code": "payload_too_large", "message": MESSAGE, "fields": []}},
                                    status_code=413, headers={"Connection": "close"})
            return await response(scope, receive, send)
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, MESSAGE)
            return message

        await self.app(scope, limited, send)
