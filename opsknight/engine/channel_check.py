"""A test message to one contact method, through the same channel registry, adapters and error handling as a page.

It is sent at once rather than queued: the person is looking at their profile waiting to see whether the message
arrives, and a queued job would have nowhere to report "the number was refused". No delivery row is written
(there is no incident) and the send happens outside any database transaction. Each one can cost money (SMS,
WhatsApp), so a user gets a few per window; the counter lives in Redis and fails open like the login throttle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from opsknight import broker
from opsknight.engine import dispatch, jobs
from opsknight.engine.channels.base import Destination, Page

log = logging.getLogger(__name__)

TEXT = "Test message: this is how OpsKnight pages will reach you. No action needed."
LIMIT = 5
WINDOW_SECONDS = 600


@dataclass(frozen=True)
class Target:
    """What the adapter needs about a contact method, read inside a transaction and used after it."""

    user_id: int
    kind: str
    address: str
    push_keys: dict | None = None


@dataclass(frozen=True)
class Outcome:
    sent: bool
    provider_id: str = ""
    error: str = ""


def within_limit(user_id: int, now: float) -> bool:
    """Count one test message for the user in a fixed window; False once they have sent LIMIT in it."""
    key = f"opsknight:test-messages:{user_id}:{int(now) // WINDOW_SECONDS}"
    try:
        pipe = broker.redis_conn().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS * 2)
        count = pipe.execute()[0]
    except redis.RedisError as exc:
        log.warning("test-message limit skipped, Redis unreachable: %s", exc)
        return True
    return count <= LIMIT


def send(target: Target, base_url: str) -> Outcome:
    page = Page(incident_id=0, incident_number=0, title=TEXT, urgency="high", status="test",
                service_name="OpsKnight", incident_url=f"{base_url}/profile", test=True)
    destination = Destination(kind=target.kind, address=target.address, push_keys=target.push_keys)
    claimed = dispatch.Claim(delivery_id=0, channel=target.kind, destination=destination, page=page, bundled_ids=[])
    outcome, provider_id, error = dispatch.deliver(claimed, jobs.channel_registry())
    if outcome == "sent":
        return Outcome(True, provider_id or "")
    return Outcome(False, error=str(error))
