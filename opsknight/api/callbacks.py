"""Inbound acknowledgements from providers and links: Slack buttons, SMS/WhatsApp replies, email and push links.
(What else a browser's push side talks to — receipts, its subscription — is in `api.push`.)

Each route verifies the sender (Slack's signature, Twilio's signature, or our signed single-use link), works out
which OpsKnight user is acting (by the contact method the reply came from, or the user the link was sent to),
checks that user's role with the same `permissions.allowed` the API and the pages use, and ends in the same
`engine.actions` call the web UI uses. A refusal is answered in the channel the person used. Thin: verify,
identify, authorize, act, answer.
"""

from __future__ import annotations

import html
import json
import logging
import os
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import select

from opsknight import accounts
from opsknight.accounts import Principal
from opsknight.config import settings
from opsknight.db import session_scope
from opsknight.engine import acks, actions, clock, inbound
from opsknight.models import ContactMethod, Incident, User, UserStatus
from opsknight.permissions import Permission, allowed

router = APIRouter(tags=["callbacks"], include_in_schema=False)
log = logging.getLogger(__name__)

ACTIONS = {inbound.ACK: actions.acknowledge, inbound.RESOLVE: actions.resolve}
PAST = {inbound.ACK: "acknowledged", inbound.RESOLVE: "resolved"}
VERB = {inbound.ACK: "acknowledge", inbound.RESOLVE: "resolve"}


def _user_by_contact(kinds: tuple[str, ...], address: str) -> Principal | None:
    """The active user who owns this Slack id or phone number (the reply's sender)."""
    with session_scope() as db:
        user = db.exec(select(User).join(ContactMethod, ContactMethod.user_id == User.id).where(
            ContactMethod.kind.in_(kinds), ContactMethod.address == address, User.status == UserStatus.ACTIVE)).first()
        return accounts.principal_for_user(user)


def refusal(action: str, principal: Principal | None, via: str) -> str | None:
    """None when `principal` may act on incidents (the rule of the API and the pages), else what to answer the
    person in the channel they used. Refusals are logged like the pages' and the API's."""
    if allowed(principal, Permission.ACT_ON_INCIDENTS):
        return None
    log.warning("refused %s via %s to %s", action, via, principal.email if principal else "an unknown user")
    role = f" (your role is {principal.role})" if principal else ""
    return f"You can't {VERB[action]} incidents{role}."


def _act(action: str, incident_id: int, principal: Principal, via: str) -> str | None:
    """Act as `principal`; None when done, else the refusal or why the action does not apply."""
    if (refused := refusal(action, principal, via)) is not None:
        return refused
    try:
        actions.perform(ACTIONS[action], incident_id, user_id=principal.user_id, via=via)
    except actions.ActionError as exc:
        return str(exc)
    return None


# --- Slack -------------------------------------------------------------------------------------------------


def _slack_click(raw: bytes, headers: dict[str, str]) -> tuple[int, str]:
    secret = os.environ.get("OPSKNIGHT_SLACK_SIGNING_SECRET", "")
    if not secret or not inbound.verify_slack(secret, headers, raw, clock.now().timestamp()):
        return 401, "invalid signature"
    try:
        payload = json.loads(dict(parse_qsl(raw.decode())).get("payload", ""))
        parsed = inbound.parse_slack_action(payload)
    except (ValueError, RecursionError) as exc:  # not JSON, or JSON of a shape Slack never sends
        return 400, f"malformed payload: {str(exc)[:200]}"
    if parsed is None:
        return 200, ""
    action, incident_id, slack_user = parsed
    principal = _user_by_contact(("slack",), slack_user)
    if principal is None:
        return 200, "Your Slack account is not linked to an OpsKnight user: add it as a contact method."
    if (problem := _act(action, incident_id, principal, "slack")) is not None:
        return 200, problem
    return 200, f"Incident {PAST[action]} by {principal.name}."


@router.post("/api/slack/interactions")
async def slack_interactions(request: Request) -> Response:
    raw = await request.body()
    status, text = await run_in_threadpool(_slack_click, raw, dict(request.headers))
    if status != 200:
        return JSONResponse({"error": {"code": "rejected", "message": text, "fields": []}}, status_code=status)
    return JSONResponse({"response_type": "ephemeral", "replace_original": False, "text": text} if text else {})


# --- Twilio (SMS and WhatsApp replies) ---------------------------------------------------------------------


def _twiml(message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{html.escape(message, quote=False)}</Message></Response>'
    return Response(body, media_type="application/xml")


def _sms_reply(params: dict[str, str]) -> str:
    sender = params.get("From", "")
    is_whatsapp = sender.startswith("whatsapp:")
    principal = _user_by_contact(("whatsapp",) if is_whatsapp else ("sms",), sender.removeprefix("whatsapp:"))
    if principal is None:
        return "This number is not linked to an OpsKnight user."
    parsed = inbound.parse_sms_command(params.get("Body", ""))
    if parsed is None:
        return "Reply 'ack <number>' or 'resolve <number>', e.g. 'ack 42'."
    action, number = parsed
    with session_scope() as db:
        incident_id = actions.incident_id_by_number(db, number)
    if incident_id is None:
        return f"There is no incident #{number}."
    if (problem := _act(action, incident_id, principal, "whatsapp" if is_whatsapp else "sms")) is not None:
        return problem
    return f"Incident #{number} {PAST[action]}."


@router.post("/api/twilio/inbound")
async def twilio_inbound(request: Request) -> Response:
    token = os.environ.get("OPSKNIGHT_TWILIO_AUTH_TOKEN", "")
    params = dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))
    # Behind a proxy Twilio signed the public URL, not the one we were reached at.
    public_url = settings().base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token or not inbound.verify_twilio(token, public_url, params, request.headers.get("x-twilio-signature")):
        return JSONResponse({"error": {"code": "rejected", "message": "invalid signature", "fields": []}},
                            status_code=403)
    return _twiml(await run_in_threadpool(_sms_reply, params))


# --- email and push acknowledge links -----------------------------------------------------------------------


def _redeem(token: str) -> tuple[int, str]:
    """Use a link: (incident number, message) or raises AckLinkError. The link acts as the user it was sent to,
    who must still be active and allowed to act on incidents."""
    with session_scope() as db:
        now = clock.now()
        delivery = acks.redeem(db, token, now)
        principal = accounts.principal_for_user(db.get(User, delivery.user_id) if delivery.user_id else None)
        if principal is None:
            raise acks.AckLinkError("This acknowledge link is no longer valid")
        if (refused := refusal(inbound.ACK, principal, delivery.channel)) is not None:
            raise acks.AckLinkError(refused, status=403)
        incident = db.get(Incident, delivery.incident_id)
        number = incident.number
        try:
            specs = actions.acknowledge(db, incident.id, user_id=principal.user_id, via=delivery.channel, now=now)
        except actions.ActionError as exc:  # acknowledged or resolved by someone else first: the link stays unused
            raise acks.AckLinkError(f"Incident #{number}: {exc}", status=409) from None
    from opsknight import broker
    from opsknight.engine.jobs import enqueue_specs

    enqueue_specs(specs)
    broker.publish_incidents_changed([delivery.incident_id])  # open pages show it at once
    return number, f"Incident #{number} acknowledged."


def _page(title: str, body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><meta name=viewport content='width=device-width'><title>{html.escape(title)}</title>"
        f"<body style='font-family:system-ui;max-width:28rem;margin:3rem auto;padding:0 1rem'>{body}</body>",
        status_code=status, headers=headers)


@router.get("/ack/{token}")
@router.get("/api/ack/{token}")
async def ack_link_confirm(token: str) -> HTMLResponse:
    """What an email's Acknowledge link and a push notification's tap (where notifications have no buttons: iOS,
    Firefox) open: one big button. A GET must not act — mail scanners and link previews follow links — so the
    button POSTs."""
    safe = html.escape(token, quote=True)
    return _page("Acknowledge incident", "<h2>Acknowledge this incident?</h2><p>Paging stops for everyone.</p>"
                 f"<form method=post action='/api/ack/{safe}'><button id=ack style='font-size:1.4rem;width:100%;"
                 "min-height:64px;border:0;border-radius:12px;background:#f5a524;color:#1a1a1a;font-weight:700'>"
                 "Acknowledge</button></form>", headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


@router.post("/api/ack/{token}")
async def ack_link(token: str, request: Request) -> Response:
    try:
        _, message = await run_in_threadpool(_redeem, token)
    except acks.AckLinkError as exc:
        if "json" in request.headers.get("accept", ""):
            code = {403: "forbidden", 409: "already_done"}.get(exc.status, "invalid_link")
            return JSONResponse({"error": {"code": code, "message": str(exc), "fields": []}}, status_code=exc.status)
        return _page("Link not usable", f"<h2>{html.escape(str(exc))}</h2>", status=exc.status)
    if "json" in request.headers.get("accept", ""):  # the push notification's action, from the service worker
        return JSONResponse({"status": "acknowledged", "message": message})
    return _page("Acknowledged", f"<h2>{html.escape(message)}</h2><p>Paging has stopped.</p>")
