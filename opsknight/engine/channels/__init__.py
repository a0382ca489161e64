"""The channel registry: which adapters this deployment can page through.

`build_channels()` asks each adapter module's `from_settings()` for an instance. A channel whose variables are
all unset is simply absent (the dispatcher records "channel not configured" for its contact methods); a channel
that is half configured raises `ConfigError` at start-up, because silently dropping a channel loses pages.

Adapters are imported inside `build_channels()` so importing this package stays cheap and free of cycles
(the adapters import `parse_retry_after` from here).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from opsknight.config import ConfigError
from opsknight.engine.channels.base import Channel, Destination, Page, PermanentError, RetryableError

__all__ = [
    "Channel",
    "Destination",
    "Page",
    "PermanentError",
    "RetryableError",
    "build_channels",
    "parse_retry_after",
    "require",
]


def build_channels(environ: Mapping[str, str] | None = None) -> dict[str, Channel]:
    """Every configured channel, keyed by its name ("slack", "sms", "whatsapp", "email", "push")."""
    from opsknight.engine.channels import email, push, slack, sms, whatsapp

    env = os.environ if environ is None else environ
    channels: dict[str, Channel] = {}
    for module in (slack, sms, whatsapp, email, push):
        channel = module.from_settings(env)
        if channel is not None:
            channels[channel.name] = channel
    return channels


def require(env: Mapping[str, str], channel: str, names: list[str]) -> dict[str, str] | None:
    """Read ``OPSKNIGHT_<name>`` for each name: None when all are unset, the values when all are set.

    Half a configuration is an error a person must fix, never a quietly disabled channel.
    """
    values = {name: env.get(f"OPSKNIGHT_{name}", "").strip() for name in names}
    missing = [f"OPSKNIGHT_{name}" for name, value in values.items() if not value]
    if len(missing) == len(names):
        return None
    if missing:
        raise ConfigError(f"The {channel} channel is partly configured: set {', '.join(missing)} too")
    return values


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
