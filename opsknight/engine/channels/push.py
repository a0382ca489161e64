"""Web push (RFC 8030 + RFC 8291 encryption + RFC 8292 VAPID) through pywebpush to the browser's push service.

The payload is the JSON the service worker (`assets/sw.js`) shows as a notification (`payload`): urgency and
service in the title, the summary in the body, one `tag` per incident (a later page replaces the earlier
notification, and `renotify` makes it alert again), `requireInteraction` for high urgency, Acknowledge and Open
buttons where the browser has them, and the page's links: the acknowledge link the Acknowledge button POSTs,
the acknowledge page a tap opens where there are no buttons (iOS, Firefox), and where to report receipts. Details
load when the incident opens, so the payload stays far under the 4 KB push services take (MAX_PAYLOAD_BYTES).

The request: `Urgency: high` wakes the device for high urgency ("normal" otherwise: "low" may be held back for
hours on battery saver); `Topic` per incident, so a newer page replaces one the push service still holds for an
offline device; `TTL` until the escalation moves on (`dispatch.push_ttl`; pywebpush's default of 0 drops the page
if the phone is offline at that moment); a timeout; and fresh VAPID claims each time (pywebpush writes into
them). A 404 or 410 means the subscription is gone: PermanentError(gone=True) tells the dispatcher to delete it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from opsknight.config import ConfigError
from opsknight.engine.channels import parse_retry_after, require
from opsknight.engine.channels.base import Destination, Page, PermanentError, RetryableError

MAX_PAYLOAD_BYTES = 3800  # push services take 4,096 bytes of ciphertext; encryption adds ~100


class PushChannel:
    name = "push"

    def __init__(self, vapid_private_key: str, vapid_subject: str, timeout: float = 10.0):
        """`vapid_private_key`: base64url raw or DER key (see `opsknight.engine.vapid`); `vapid_subject`: a
        mailto: or https: URL push services may use to contact the operator."""
        if not subject_acceptable(vapid_subject):
            raise ValueError(f"the VAPID subject must be a real address (Apple's push service refuses localhost "
                             f"ones), got {vapid_subject!r}")
        try:
            self._vapid = Vapid.from_string(vapid_private_key)  # parse once, and fail at start-up if malformed
        except Exception as exc:  # binascii, cryptography and struct errors alike
            raise ValueError(f"the VAPID private key is not a valid P-256 key: {exc}") from None
        self._subject = vapid_subject
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
                ttl=page.ttl_seconds,
                timeout=self._timeout,
                headers=headers(page),
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


def subject_acceptable(subject: str) -> bool:
    """A mailto: or https: subject whose host is not this machine (Apple refuses those)."""
    if subject.startswith("mailto:"):
        host = subject.rpartition("@")[2]
    elif subject.startswith("https://"):
        host = urlsplit(subject).hostname or ""
    else:
        return False
    return host.lower() not in ("", "localhost", "127.0.0.1", "[::1]", "::1") and not host.lower().endswith(".localhost")


def headers(page: Page) -> dict[str, str]:
    found = {"Urgency": "high" if page.urgency == "high" else "normal"}
    if not page.test:  # RFC 8030 topic: at most 32 characters of the URL-safe base64 alphabet
        found["Topic"] = f"incident-{page.incident_id}"[:32]
    return found


def payload(page: Page) -> dict:
    """What the service worker shows (see the module's docstring); at most MAX_PAYLOAD_BYTES as JSON."""
    if page.test:
        return {"title": "OpsKnight", "body": page.title, "url": page.incident_url, "tag": "opsknight-test",
                "urgency": page.urgency, "actions": []}
    body = page.title[:300]
    if page.bundled_count:
        body += f" (+{page.bundled_count} more incidents)"
    found = {
        "title": f"#{page.incident_number} {page.urgency.upper()} · {page.service_name[:80]}",
        "body": body,
        "url": page.incident_url,
        "incident_id": page.incident_id,
        "incident_number": page.incident_number,
        "urgency": page.urgency,
        "tag": f"incident-{page.incident_id}",
        "renotify": page.repage,
        "requireInteraction": page.urgency == "high",
        # Acknowledge only while there is something to acknowledge (a responder request may come later).
        "actions": ([{"action": "acknowledge", "title": "Acknowledge"}] if page.status == "triggered" else [])
        + [{"action": "open", "title": "Open"}],
        # The service worker POSTs the acknowledge link (a signed, expiring, single-use token for this page) when
        # Acknowledge is tapped: it works without a signed-in page open. Never a GET.
        "ack_url": page.ack_url,
        "ack_page_url": page.ack_page_url,
        "receipt_url": page.receipt_url,
    }
    over = len(json.dumps(found).encode()) - MAX_PAYLOAD_BYTES
    if over > 0:  # only a long service name and title together come near: the summary gives way
        found["body"] = body.encode()[:max(0, len(body.encode()) - over - 3)].decode(errors="ignore") + "…"
    return found


def from_settings(env: Mapping[str, str] = os.environ) -> PushChannel | None:
    values = require(env, "web push", ["VAPID_PRIVATE_KEY", "VAPID_SUBJECT"])
    if values is None:
        return None
    try:
        return PushChannel(values["VAPID_PRIVATE_KEY"], values["VAPID_SUBJECT"])
    except ValueError as exc:
        raise ConfigError(f"OPSKNIGHT_VAPID_PRIVATE_KEY / OPSKNIGHT_VAPID_SUBJECT: {exc}") from None
