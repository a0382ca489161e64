"""Web push (RFC 8030 + RFC 8291 encryption + RFC 8292 VAPID) through pywebpush to the browser's push service.

The payload is the JSON the service worker (`assets/sw.js`) shows as a notification: title, body, url,
incident_id, a tag that makes later pages for the same incident replace the earlier one, and an Acknowledge
action. High-urgency pages ask the push service to wake the device now (`Urgency: high`); low urgency uses
"normal" rather than "low", which phones on battery saver may hold back for hours.

A 404 or 410 means the subscription is gone: PermanentError(gone=True) tells the dispatcher to delete it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import requests
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from opsknight.config import ConfigError
from opsknight.engine.channels import parse_retry_after, require
from opsknight.engine.channels.base import Destination, Page, PermanentError, RetryableError

DEFAULT_TTL = 3600  # seconds a push service keeps a page for an offline device; later, escalation has moved on


class PushChannel:
    name = "push"

    def __init__(self, vapid_private_key: str, vapid_subject: str, ttl: int = DEFAULT_TTL, timeout: float = 10.0):
        """`vapid_private_key`: base64url raw or DER key (see `opsknight.engine.vapid`); `vapid_subject`: a
        mailto: or https: URL push services may use to contact the operator."""
        if not vapid_subject.startswith(("mailto:", "https://")):
            raise ValueError(f"the VAPID subject must be a mailto: or https: URL, got {vapid_subject!r}")
        try:
            self._vapid = Vapid.from_string(vapid_private_key)  # parse once, and fail at start-up if malformed
        except Exception as exc:  # binascii, cryptography and struct errors alike
            raise ValueError(f"the VAPID private key is not a valid P-256 key: {exc}") from None
        self._subject = vapid_subject
        self._ttl = ttl
        self._timeout = timeout

    def send(self, destination: Destination, page: Page) -> str:
        """Encrypt and post the payload; return the push service's message URL (its Location header)."""
        keys = destination.push_keys or {}
        if not (keys.get("p256dh") and keys.get("auth")):
            raise PermanentError("push subscription has no keys", gone=True)
        try:
            response = webpush(
                subscription_info={"endpoint": destination.address, "keys": keys},
                data=json.dumps(payload(page)),
                vapid_private_key=self._vapid,
                # A fresh dict every call: pywebpush writes "aud" and "exp" into it, and a reused dict would
                # carry the first push service's origin to every other one.
                vapid_claims={"sub": self._subject},
                ttl=self._ttl,
                timeout=self._timeout,
                headers={"Urgency": "high" if page.urgency == "high" else "normal"},
            )
        except WebPushException as exc:
            raise _map_error(exc) from exc
        except requests.RequestException as exc:
            raise RetryableError(f"push service unreachable: {exc}") from exc
        return response.headers.get("Location", "")


def _map_error(exc: WebPushException) -> Exception:
    status = exc.status_code
    if status in (404, 410):
        return PermanentError(f"push subscription gone ({status})", gone=True)
    if status == 429:
        return RetryableError("push service rate limited", parse_retry_after(exc.retry_after))
    if status is None or status >= 500:
        return RetryableError(f"push service error: {status}")
    return PermanentError(f"push rejected ({status}): {exc.message}")  # 400/401/403 bad VAPID, 413 too large


def payload(page: Page) -> dict:
    if page.test:
        return {"title": "OpsKnight", "body": page.title, "url": page.incident_url, "tag": "opsknight-test",
                "urgency": page.urgency, "actions": []}
    body = f"{page.service_name} · {page.status}"
    if page.bundled_count:
        body += f" · {page.bundled_count} more incidents"
    return {
        "title": f"#{page.incident_number} {page.urgency.upper()}: {page.title[:200]}",
        "body": body,
        "url": page.incident_url,
        "incident_id": page.incident_id,
        "incident_number": page.incident_number,
        "urgency": page.urgency,
        "tag": f"incident-{page.incident_id}",
        "actions": [{"action": "ack", "title": "Acknowledge"}],
        # The service worker POSTs here (Accept: application/json) when "Acknowledge" is tapped: a signed,
        # expiring, single-use link, so the action works without a signed-in page open.
        "ack_url": page.ack_url,
    }


def from_settings(env: Mapping[str, str] = os.environ) -> PushChannel | None:
    values = require(env, "web push", ["VAPID_PRIVATE_KEY", "VAPID_SUBJECT"])
    if values is None:
        return None
    try:
        return PushChannel(values["VAPID_PRIVATE_KEY"], values["VAPID_SUBJECT"])
    except ValueError as exc:
        raise ConfigError(f"OPSKNIGHT_VAPID_PRIVATE_KEY / OPSKNIGHT_VAPID_SUBJECT: {exc}") from None
