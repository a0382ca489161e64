"""What a browser's web push side talks to: the VAPID public key it subscribes with, its subscription (stored as
one of the signed-in user's push contact methods), receipts from the service worker, and the app manifest.

The subscription route is called by the page's own script (`assets/push.js`) and the service worker, with the
session cookie: it takes only same-origin requests (`api.session.from_our_own_page`), so another site cannot
store a subscription of its choosing on a signed-in visitor's account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from opsknight import accounts, broker
from opsknight.admin import AdminError, contacts
from opsknight.api.session import SESSION_COOKIE, from_our_own_page
from opsknight.db import session_scope
from opsknight.engine import acks, clock, receipts, vapid

router = APIRouter(tags=["push"])
ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "fields": fields or []}}, status_code=status)


@router.get("/api/push/vapid-public-key")
def vapid_public_key() -> dict:
    """The applicationServerKey browsers subscribe with (public by design)."""
    with session_scope() as db:
        return {"public_key": vapid.public_key_for(vapid.stored_private_key(db))}


def _as_signed_in(token: str, fn, *args) -> tuple[int, dict]:
    """`fn(db, principal, *args)` for the session's user: (status, answer or error)."""
    with session_scope() as db:
        principal = accounts.principal_for_session(db, token)
        if principal is None:
            return 401, {"code": "unauthorized", "message": "Sign in first"}
        try:
            return 200, fn(db, principal, *args)
        except AdminError as exc:
            return exc.status, {"code": exc.code, "message": exc.message, "fields": exc.fields}


def _saved(db, principal, body: dict) -> dict:
    contact, created = contacts.save_push_subscription(db, principal, body)
    if contact is None:
        return {"stored": False}
    return {"stored": True, "id": contact.id, "label": contact.label, "created": created}


def _forgotten(db, principal, body: dict) -> dict:
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    return {"forgotten": isinstance(endpoint, str) and contacts.forget_push_subscription(db, principal, endpoint)}


async def _session_call(request: Request, fn) -> JSONResponse:
    if not from_our_own_page(request):
        return _error(403, "forbidden", "Only OpsKnight's own pages may change this browser's subscription")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "invalid_json", "Send JSON")
    status, answer = await run_in_threadpool(_as_signed_in, request.cookies.get(SESSION_COOKIE, ""), fn, body)
    if status >= 400:
        return _error(status, answer["code"], answer["message"], answer.get("fields"))
    return JSONResponse(answer, status_code=201 if answer.get("created") else 200)


@router.post("/api/push/subscriptions", include_in_schema=False)
async def save_subscription(request: Request) -> JSONResponse:
    """Store ("enable": true, the person's tap) or renew this browser's push subscription for the signed-in user."""
    return await _session_call(request, _saved)


@router.post("/api/push/subscriptions/forget", include_in_schema=False)
async def forget_subscription(request: Request) -> JSONResponse:
    """Signing out: this browser stops receiving the user's pages ({"endpoint": ...})."""
    return await _session_call(request, _forgotten)


class ReceiptIn(BaseModel):
    event: Literal["displayed", "acted"]
    action: str = Field(default="", max_length=40, pattern=r"^[a-z_-]*$")


def _receipt(token: str, body: ReceiptIn) -> None:
    with session_scope() as db:
        now = clock.now()
        delivery_id = acks.receipt_delivery_id(token, now)
        try:
            changed = receipts.record(db, delivery_id, body.event, body.action, now)
        except receipts.ReceiptError as exc:
            raise acks.AckLinkError(str(exc), status=404) from None
    if changed is not None:
        broker.publish_incidents_changed([changed], status_page=False)


@router.post("/api/push/receipts/{token}", status_code=204)
async def push_receipt(token: str, body: ReceiptIn) -> Response:
    """The service worker: this page's notification was shown ("displayed"), or tapped ("acted"). Authenticated by
    the page's own signed receipt token."""
    try:
        await run_in_threadpool(_receipt, token, body)
    except acks.AckLinkError as exc:
        return JSONResponse({"error": {"code": "invalid_receipt", "message": str(exc), "fields": []}},
                            status_code=exc.status)
    return Response(status_code=204)




@router.get("/manifest.webmanifest", include_in_schema=False)
def manifest() -> FileResponse:
    """The web app manifest, with the media type install prompts look for (the static files server does not
    know the .webmanifest extension)."""
    return FileResponse(ASSETS / "manifest.webmanifest", media_type="application/manifest+json",
                        headers={"Cache-Control": "no-cache"})
