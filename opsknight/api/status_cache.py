"""The status page's cache: one snapshot in Redis, invalidated by a generation counter, copied in each process.

A status page is read by everyone at the moment things break, which is also when alerts pour in. So:

* Every change that can alter the page (an incident opened, acknowledged, resolved, merged or re-urged; a public
  update; a component edited) bumps ``GEN_KEY`` after its commit (``broker.invalidate_status_page``): the cache
  is invalidated, not timed out.
* Requests are answered from this process's copy, in memory, on the event loop (``fast``), with bodies rendered
  once per copy. At most every ``SYNC_SECONDS`` one request per process looks at Redis (``current``, in a worker
  thread): the generation and the stored snapshot's generation, two small keys. A stale copy is rebuilt from
  PostgreSQL by one process at a time, at most once per ``REBUILD_SPACING_MS`` (a Redis ``SET NX PX``), so a
  flood of changes costs a few rebuilds a second, not one per request; the other processes fetch any stored
  snapshot newer than theirs (under a steady stream of changes none is ever of the latest generation). Meanwhile everyone keeps answering with the copy they have. A change shows within about
  SYNC_SECONDS + REBUILD_SPACING_MS + one rebuild + SYNC_SECONDS.
* ``MAX_AGE_SECONDS`` rebuilds it anyway, for what time alone changes (the day's bar, "resolved 14 days ago")
  and for an invalidation lost while Redis was away. With Redis down the page is built from the database, at
  most once per ``MAX_AGE_WITHOUT_REDIS`` per process; with the database down, the last copy goes on being
  served (a status page is read most when things are down).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError

from opsknight import broker
from opsknight.config import settings
from opsknight.db import session_scope
from opsknight.engine import clock, status_snapshot

log = logging.getLogger(__name__)

GEN_KEY = broker.STATUS_GEN_KEY
SNAPSHOT_KEY = "opsknight:status:snapshot"
META_KEY = "opsknight:status:snapshot:meta"  # "<generation> <built_at>" of SNAPSHOT_KEY, read without the blob
LOCK_KEY = "opsknight:status:rebuild"
SETTLED_PREFIX = "opsknight:status:settled:"
REBUILD_SPACING_MS = 250
SYNC_SECONDS = 0.1
MAX_AGE_SECONDS = 60
MAX_AGE_WITHOUT_REDIS = 2.0


@dataclass(frozen=True)
class Body:
    plain: bytes
    gzipped: bytes  # what browsers get (they all accept gzip): the HTML shrinks ~10x for a phone on a slow network
    etag: str


@dataclass
class Copy:
    """One snapshot as this process holds it, with the bodies rendered from it so far."""

    gen: int | None
    built_at: float  # wall-clock seconds, comparable across processes
    data: dict[str, Any]
    bodies: dict[str, Body] = field(default_factory=dict)
    rendering: threading.Lock = field(default_factory=threading.Lock)

    def body(self, name: str, render: Callable[[dict[str, Any]], bytes]) -> Body:
        with self.rendering:  # the requests that all arrive for a new copy wait for one rendering, not do their own
            if name not in self.bodies:
                content = render(self.data)
                self.bodies[name] = Body(content, gzip.compress(content, compresslevel=6, mtime=0),
                                         f'"{hashlib.sha1(content).hexdigest()[:20]}"')
            return self.bodies[name]


_lock = threading.Lock()  # one sync per process at a time
_local: Copy | None = None
_synced_at = float("-inf")  # monotonic time of this process's last look at Redis


def _young(copy: Copy | None, max_age: float = MAX_AGE_SECONDS) -> bool:
    return copy is not None and time.time() - copy.built_at < max_age


def fast() -> Copy | None:
    """This process's copy, if it looked at Redis less than SYNC_SECONDS ago; None: call `current`. Never blocks:
    the event loop calls it."""
    local = _local
    return local if time.monotonic() - _synced_at < SYNC_SECONDS and _young(local) else None


def current() -> Copy:
    """Look at Redis (or the database), then answer. Blocking: call it from a worker thread."""
    if not _lock.acquire(blocking=False):  # another thread of this process is looking: its copy will do
        if _local is not None:
            return _local
        _lock.acquire()
    try:
        if fast() is None:
            _sync()
        return _local
    finally:
        _lock.release()


class _RedisStore:
    """The settled part of the history, shared by the web processes (best effort: without Redis each computes
    its own)."""

    def get(self, name: str) -> bytes | None:
        try:
            return broker.redis_conn().get(f"{SETTLED_PREFIX}{name}")
        except redis.RedisError:
            return None

    def set(self, name: str, value: str, seconds: int) -> None:
        try:
            broker.redis_conn().set(f"{SETTLED_PREFIX}{name}", value, ex=seconds)
        except redis.RedisError:
            pass


def _build() -> dict[str, Any]:
    config = settings()
    with session_scope() as db:
        return status_snapshot.load(db, clock.now(), config.base_url, config.status_page_title, _RedisStore())


def _sync() -> None:
    global _local, _synced_at
    local = _local
    conn = broker.redis_conn()
    try:
        raw_gen, raw_meta = conn.mget(GEN_KEY, META_KEY)
        gen = int(raw_gen or 0)
        stored_gen, stored_at = (int(raw_meta.split()[0]), float(raw_meta.split()[1])) if raw_meta else (None, 0.0)
        newer_stored = stored_gen is not None and stored_at > (local.built_at if local else 0.0) \
            and time.time() - stored_at < MAX_AGE_SECONDS
        if local is not None and local.gen == gen and _young(local):
            pass  # current
        elif newer_stored and stored_gen == gen:
            _local = _fetch(conn) or local
        elif conn.set(LOCK_KEY, 1, nx=True, px=REBUILD_SPACING_MS):
            _local = Copy(gen, time.time(), _build())
            with conn.pipeline() as pipe:  # blob and meta together: a reader never sees one without the other
                pipe.set(SNAPSHOT_KEY, json.dumps({"gen": gen, "built_at": _local.built_at, "data": _local.data}),
                         ex=MAX_AGE_SECONDS * 10)
                pipe.set(META_KEY, f"{gen} {_local.built_at}", ex=MAX_AGE_SECONDS * 10)
                pipe.execute()
        elif newer_stored:
            # Another process built a newer one: take it even if changes came since (under a steady stream of
            # them no snapshot is ever of the latest generation); the next rebuild brings those.
            _local = _fetch(conn) or local
        elif local is None:  # a cold process while another rebuilds and nothing is stored: build it here
            _local = Copy(gen, time.time(), _build())
    except redis.RedisError as exc:
        log.warning("status page cache unavailable, reading the database: %s", exc)
        if not _young(local, MAX_AGE_WITHOUT_REDIS):
            _rebuild_or_keep(local)
    except SQLAlchemyError as exc:
        _keep_after(local, exc)
    _synced_at = time.monotonic()


def _rebuild_or_keep(local: Copy | None) -> None:
    global _local
    try:
        _local = Copy(None, time.time(), _build())
    except SQLAlchemyError as exc:
        _keep_after(local, exc)


def _keep_after(local: Copy | None, exc: Exception) -> None:
    """The database failed during a rebuild: the page is read most when things break, so go on answering with
    the copy we have, however old (only a process that never had one answers 503)."""
    if local is None:
        raise exc
    log.warning("status page rebuild failed; answering with the copy of %.0f s ago: %s",
                time.time() - local.built_at, exc)


def _fetch(conn: redis.Redis) -> Copy | None:
    raw = conn.get(SNAPSHOT_KEY)
    if not raw:
        return None
    stored = json.loads(raw)
    return Copy(stored["gen"], stored["built_at"], stored["data"])


def reset() -> None:
    """Forget this process's copy (tests switch databases between cases)."""
    global _local, _synced_at
    with _lock:
        _local, _synced_at = None, float("-inf")
    status_snapshot.forget()
