"""The one small interface every notification channel implements.

An adapter turns a `Page` into one provider request through the provider's official SDK and returns the
provider's id for it. It never decides what happens next: it raises `RetryableError` (network trouble, 5xx,
429 — with the provider's Retry-After when it gave one) or `PermanentError` (bad number, revoked token, a push
subscription that is gone), and the dispatcher retries, gives up, or cleans up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Page:
    """Everything a channel may say about one incident to one person. Plain data, built by the dispatcher."""

    incident_id: int
    incident_number: int
    title: str
    urgency: str  # "high" | "low"
    status: str  # "triggered" | "acknowledged" | "resolved"
    service_name: str
    incident_url: str  # link to the incident in the web UI
    ack_url: str = ""  # single-use acknowledge link (email; the push notification's Acknowledge button POSTs it)
    ack_page_url: str = ""  # the page with one Acknowledge button (a push tap where notifications have no buttons)
    receipt_url: str = ""  # where the service worker reports that it showed the notification, and the tap
    ttl_seconds: int = 3600  # how long a push service may hold a page for an offline device
    repage: bool = False  # an earlier page for this incident went to this person: notify again, not silently
    bundled_count: int = 0  # more incidents folded into this page by pacing ("12 more incidents on checkout")
    dedup_key: str = ""
    extra: dict = field(default_factory=dict)
    test: bool = False  # a "send test message" from a profile: no incident, nothing to acknowledge


@dataclass(frozen=True)
class Destination:
    """Where to send: a contact method's address, plus a push subscription's keys for web push."""

    kind: str  # "email" | "sms" | "whatsapp" | "slack" | "push"
    address: str  # email, E.164 phone, Slack user/channel id, or push endpoint URL
    push_keys: dict | None = None  # {"p256dh": ..., "auth": ...}


class ChannelError(Exception):
    """A send that did not succeed."""


class RetryableError(ChannelError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ChannelError):
    def __init__(self, message: str, gone: bool = False):
        super().__init__(message)
        self.gone = gone  # the destination no longer exists (e.g. push 404/410): delete it


class Channel(Protocol):
    name: str

    def send(self, destination: Destination, page: Page) -> str:
        """Send one page; return the provider's message id. Raise RetryableError or PermanentError."""
        ...
