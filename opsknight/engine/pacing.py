"""Pure: per-contact pacing, so an alert storm sends one phone a few bundled messages, not 200.

After a page goes to a destination on a channel, further pages to the same destination wait until the window
has passed; then one message carries the oldest waiting incident and says how many more are waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# Minimum spacing between two messages to one destination, per channel. SMS and WhatsApp cost money and
# Twilio paces long codes at about one segment a second per sender anyway; a phone buzzing every second helps
# nobody.
WINDOWS = {
    "sms": timedelta(seconds=60),
    "whatsapp": timedelta(seconds=30),
    "slack": timedelta(seconds=10),
    "email": timedelta(seconds=30),
    "push": timedelta(seconds=10),
}


def window(channel: str) -> timedelta:
    return WINDOWS.get(channel, timedelta(seconds=30))


def held_until(channel: str, last_sent_at: datetime | None, now: datetime) -> datetime | None:
    """When a page may go out, if it must wait; None when it may go now."""
    if last_sent_at is None:
        return None
    ready = last_sent_at + window(channel)
    return ready if ready > now else None


def bundle_text(count: int, service_names: set[str]) -> str:
    """The sentence a bundled page adds, e.g. "12 more incidents on checkout"."""
    if count <= 0:
        return ""
    where = f" on {next(iter(service_names))}" if len(service_names) == 1 else ""
    return f"{count} more incident{'s' if count != 1 else ''}{where}"
