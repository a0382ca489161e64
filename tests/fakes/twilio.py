"""Fake Twilio Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`) for SMS and WhatsApp.

It checks HTTP basic auth (account SID + auth token) and the numbers the way Twilio does (error 21211 for a
`To` that is not E.164), records To/From/Body, and answers 201 with a realistic message resource ("SM…" sid).
It can also play Twilio's side of the callbacks, signed with the auth token as Twilio signs them:
`send_status(req, "delivered")` posts a status callback; `send_inbound(url, from_, body)` an incoming reply.
"""

from __future__ import annotations

import base64
import re
import uuid
from email.utils import formatdate

import httpx
from twilio.request_validator import RequestValidator

from tests.fakes.base import FakeHTTPServer, Reply, Request

_E164 = re.compile(r"(whatsapp:)?\+[1-9]\d{6,14}")


class TwilioFake(FakeHTTPServer):
    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-auth-token"):
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages_path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"

    def fail_next(self, status: int, code: int, message: str = "error", retry_after: int | None = None) -> None:
        """Answer the next message with a Twilio error, e.g. (400, 21610, "unsubscribed") or (429, 20429)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}
        self.respond_next(Reply(status, body, headers))

    def check(self, req: Request) -> Reply | None:
        if req.method != "POST" or req.path != self.messages_path:
            self.problem(f"unexpected Twilio call {req.method} {req.path}")
            return _error(404, 20404, "The requested resource was not found")
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if req.headers.get("Authorization") != expected:
            return _error(401, 20003, "Authenticate")  # recorded: a test must take() it
        form = req.form
        if not form.get("Body") or not form.get("From"):
            self.problem(f"message without Body or From: {form}")
            return _error(400, 21602, "Message body is required")
        if not _E164.fullmatch(form.get("To", "")):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To')}")
        if form["To"].startswith("whatsapp:") != form["From"].startswith("whatsapp:"):
            self.problem(f"WhatsApp and SMS addresses mixed: {form['From']} -> {form['To']}")
            return _error(400, 63007, "Twilio could not find a Channel with the specified From address")
        return None

    def answer(self, req: Request) -> Reply:
        form, sid = req.form, "SM" + uuid.uuid4().hex
        req.info["sid"] = sid
        now = formatdate(usegmt=True)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        return Reply(201, {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": form["Body"],
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form["From"], "messaging_service_sid": None,
            "num_media": "0", "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued", "to": form["To"], "uri": uri,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        })

    # -- Twilio calling us ---------------------------------------------------------------------------------------
    def signature(self, url: str, params: dict[str, str]) -> str:
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def post_signed(self, url: str, params: dict[str, str]) -> httpx.Response:
        return httpx.post(url, data=params, headers={"X-Twilio-Signature": self.signature(url, params)})

    def send_status(self, req: Request, status: str = "delivered", url: str | None = None) -> httpx.Response:
        """Post the status callback Twilio would send for a recorded message (to its StatusCallback)."""
        url = url or req.form.get("StatusCallback")
        assert url, "the message had no StatusCallback and no url was given"
        form = req.form
        return self.post_signed(url, {
            "AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "From": form["From"], "To": form["To"],
            "MessageSid": req.info["sid"], "SmsSid": req.info["sid"], "MessageStatus": status, "SmsStatus": status,
        })

    def send_inbound(self, url: str, from_: str, body: str, to: str = "+15005550006") -> httpx.Response:
        """Post an incoming message (a person's reply, e.g. "ack 42") to our webhook, signed."""
        sid = "SM" + uuid.uuid4().hex
        return self.post_signed(url, {
            "AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "Body": body, "From": from_, "To": to,
            "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "NumMedia": "0", "NumSegments": "1",
        })


def _error(status: int, code: int, message: str) -> Reply:
    return Reply(status, {"code": code, "message": message, "status": status,
                          "more_info": f"https://www.twilio.com/docs/errors/{code}"})
