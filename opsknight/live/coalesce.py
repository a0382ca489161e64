"""Coalescing changes into feed updates. Pure: time is passed in.

A change after a quiet spell goes out almost at once (FIRST_DELAY, so a webhook's incident shows within a
fraction of a second); during a burst the feed updates at most every MIN_INTERVAL, each update carrying every
change since the last. Each update costs Reflex a lock/load/delta cycle per linked page, so a storm of 1,000
changes a second must become a few updates a second, never one per change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIRST_DELAY = 0.02  # seconds: lets the rest of a burst's first moment join
MIN_INTERVAL = 0.33  # seconds between updates: at most 3 a second
MAX_IDS = 200  # more changes than this in one update: "anything may have changed" (every page refreshes)
RESYNC_EVERY = 30.0  # seconds: an update with no ids, so a page that missed one catches up


@dataclass
class Coalescer:
    pending: set[int] = field(default_factory=set)
    overflow: bool = False
    first_at: float | None = None  # when the oldest pending change arrived
    last_sent: float = float("-inf")
    last_resync: float = 0.0

    def add(self, ids: list[int], now: float) -> None:
        if self.first_at is None:
            self.first_at = now
        self.pending.update(ids)
        if len(self.pending) > MAX_IDS:
            self.overflow = True

    def due_at(self) -> float:
        """When the next update should go out (inf: nothing pending and no resync needed soon)."""
        resync = self.last_resync + RESYNC_EVERY
        if self.first_at is None:
            return resync
        return min(resync, max(self.first_at + FIRST_DELAY, self.last_sent + MIN_INTERVAL))

    def take(self, now: float) -> list[int] | None:
        """The ids of the update due now ([] = resync: anything may have changed), or None if none is due.
        A resync goes out every RESYNC_EVERY even while changes keep flowing: it is what catches up a page that
        missed a batch (a failed push, a relay that changed hands)."""
        if now < self.due_at():
            return None
        resync = self.last_resync + RESYNC_EVERY <= now
        ids = [] if resync or self.overflow or self.first_at is None else sorted(self.pending)
        self.pending, self.overflow, self.first_at = set(), False, None
        self.last_sent = now
        if not ids:
            self.last_resync = now
        return ids
