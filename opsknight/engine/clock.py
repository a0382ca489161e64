"""The one place that reads "now". Tests move time with `set_now`/`advance` instead of sleeping."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

_lock = threading.Lock()
_frozen: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    with _lock:
        if _frozen is not None:
            return _frozen
    return datetime.now(timezone.utc)


def set_now(value: datetime | None) -> None:
    """Freeze the clock at `value` (aware); None returns to the wall clock."""
    global _frozen
    if value is not None and value.tzinfo is None:
        raise ValueError("clock.set_now needs a timezone-aware datetime")
    with _lock:
        _frozen = value.astimezone(timezone.utc) if value else None


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward (freezing it at the wall clock first if needed)."""
    global _frozen
    with _lock:
        _frozen = (_frozen or datetime.now(timezone.utc)) + delta
        return _frozen
