"""The status page's cache: one snapshot in Redis, invalidated by a generation counter, copied in each process.

A status page is read by everyone at the moment things break, which is also when alerts pour in. So:

* Every change that can alter the page (an incident opened, acknowledged, resolved, merged or re-urged; a public
  update; a component edited) bumps ``GEN_KEY`` after its commit (``broker.invalidate_status_page``) — the cache is invalidated,
  not timed out.
* A request reads the generation (one Redis GET) and answers from this process's copy when it is current: no
  database, no rendering. Rendered bodies (HTML, each JSON document, the feed) are memoised per copy.
* A stale copy is rebuilt by one process at a time, at most once per ``REBUILD_SPACING_MS`` (a Redis ``SET NX
  PX``): a flood of changes costs a few rebuilds a second, not one per request. Meanwhile requests get the copy
  they have, at most that spacing plus one rebuild old. The rebuilt snapshot goes to Redis for other processes.
* ``MAX_AGE_SECONDS`` rebuilds it anyway, for what time alone changes (the day's bar, "resolved 14 days ago")
  and for an invalidation lost while Redis was away. With Redis down the page is built from the database, at
  most once per ``MAX_AGE_WITHOUT_REDIS`` per process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from opsknight import broker
from opsknight.config import settings
from opsknight.db import session_scope
from opsknight.engine import clock, status_snapshot

log = logging.getLogger(__name__)

GEN_KEY = broker.STATUS_GEN_KEY
SNAPSHOT_KEY = "opsknight:status:snapshot"
LOCK_KEY = "opsknight:status:rebuild"
REBUILD_SPACING_MS = 250
MAX_AGE_SECONDS = 60
MAX_AGE_WITHOUT_REDIS = 2.0


@dataclass
class Copy:
    """One snapshot as this process holds it, with the bodies rendered from it so far."""

    gen: int | None
    built_at: float  # wall-clock seconds, comparable across processes
    data: dict[str, Any]
    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # name -> (body, etag)

    def body(self, name: str, render: Callable[[dict[str, Any]], bytes]) -> tuple[bytes, str]:
        if name not in self.bodies:  # two threads may render it at once: same bytes, harmless
            content = render(self.data)
            self.bodies[name] = (content, f'"{hashlib.sha1(content).hexdigest()[:20]}"')
        return self.bodies[name]


_lock = threading.Lock()
_local: Copy | None = None


def _build() -> dict[str, Any]:
    config = settings()
    with session_scope() as db:
        return status_snapshot.load(db, clock.now(), config.base_url, config.status_page_title)


def _fresh(copy: Copy | None, gen: int | None, max_age: float) -> bool:
    return copy is not None and copy.gen == gen and time.time() - copy.built_at < max_age


def _keep(copy: Copy) -> Copy:
    global _local
    with _lock:
        if _local is None or _local.gen != copy.gen or _local.built_at < copy.built_at:
            _local = copy
        return _local


def current() -> Copy:
    """The snapshot to answer with (blocking: call it from a worker thread)."""
    local = _local
    conn = broker.redis_conn()
    try:
        gen = int(conn.get(GEN_KEY) or 0)
        if _fresh(local, gen, MAX_AGE_SECONDS):
            return local
        raw = conn.get(SNAPSHOT_KEY)
        stored = json.loads(raw) if raw else None
        shared = Copy(stored["gen"], stored["built_at"], stored["data"]) if stored else None
        if _fresh(shared, gen, MAX_AGE_SECONDS):
            return _keep(shared)
        if conn.set(LOCK_KEY, 1, nx=True, px=REBUILD_SPACING_MS):
            built = Copy(gen, time.time(), _build())
            conn.set(SNAPSHOT_KEY, json.dumps({"gen": gen, "built_at": built.built_at, "data": built.data}),
                     ex=MAX_AGE_SECONDS * 10)
            return _keep(built)
        stale = max((c for c in (local, shared) if c is not None), key=lambda c: c.built_at, default=None)
        if stale is not None:  # another process is rebuilding: this one is at most a rebuild old
            return stale
    except redis.RedisError as exc:
        log.warning("status page cache unavailable, reading the database: %s", exc)
        if local is not None and time.time() - local.built_at < MAX_AGE_WITHOUT_REDIS:
            return local
        return _keep(Copy(None, time.time(), _build()))
    return _keep(Copy(gen, time.time(), _build()))  # nothing anywhere yet (a cold start): build it here


def reset() -> None:
    """Forget this process's copy (tests switch databases between cases)."""
    global _local
    with _lock:
        _local = None
