"""What a webhook request must pass before it may hold anything a valid sender needs.

A request used to take one of the process's in-flight places before its body was read and before its token
was checked, and a half-sent body was never timed out: 260 connections that announced a large body, sent a few
bytes and stalled kept every valid webhook at 503 for as long as they stayed open. Now, in this order:

1. The token from the headers (`Authorization` or `?token=`) is checked before a byte of the body is read, so
   a request without a valid token is answered at once and its connection closed. Only Events v2 may carry its
   token (`routing_key`) in the body alone; such a request is checked when its body has arrived. A valid token
   stays admitted (re-checked in the background every few seconds), so a busy sender costs no extra query and
   never waits behind others; unknown tokens are looked up a few at a time, one nobody has is remembered for a
   few seconds, and a flood of made-up ones beyond MAX_WAITING_LOOKUPS is answered 503 at once.
2. The body must arrive within BODY_SECONDS (408 after); a sender that goes away mid-body costs one log line.
3. Only then does the request take an in-flight place (MAX_IN_FLIGHT per process, 503 beyond): the limit
   counts requests that can make progress, never ones waiting on a slow client.

The token is checked again, inside the ingest transaction (`common.accept_all`): what is remembered here only
decides whether reading the body is worth it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator

import anyio
from fastapi import Request
from sqlmodel import Session
from starlette.requests import ClientDisconnect

from opsknight import security
from opsknight.api.webhooks import common
from opsknight.config import settings
from opsknight.db import engine

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 256  # per process; beyond this we shed with 503 rather than queue without bound
BODY_SECONDS = 10.0  # a monitor sends at most OPSKNIGHT_MAX_BODY_BYTES (512 KB) on a working network well within this
KNOWN_TOKEN_SECONDS = 10.0
KNOWN_TOKENS_KEPT = 4096
LOOKUPS_AT_ONCE = 2  # per process: made-up tokens must not take every pooled connection


class _InFlight:
    def __init__(self, limit: int):
        self.limit, self.count, self._lock = limit, 0, threading.Lock()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self.count >= self.limit:
                raise common.unavailable("OpsKnight is busy; retry shortly")
            self.count += 1
        try:
            yield
        finally:
            with self._lock:
                self.count -= 1


in_flight = _InFlight(MAX_IN_FLIGHT)


@contextlib.asynccontextmanager
async def admitted(request: Request, source_types: set[str], *,
                   token_may_be_in_body: bool = False) -> AsyncIterator[tuple[str | None, bytes]]:
    """(token from the headers, body) once the request has passed the three checks above, holding its in-flight
    place until the block ends. Raises WebhookError."""
    token = common.request_token(request)
    if token or not token_may_be_in_body:
        await check_token(token, source_types)
    body = await read_body(request)
    with in_flight.slot():
        yield token, body


# --- 1. the token, before the body ------------------------------------------------------------------------------

Key = tuple[str, frozenset[str]]
_known: OrderedDict[Key, float] = OrderedDict()  # (token digest, source types) -> good until (time.monotonic())
_refused: OrderedDict[Key, tuple[float, common.WebhookError]] = OrderedDict()  # -> (refused until, the refusal)
# Per event loop (tasks and semaphores belong to theirs): lookups under way by key, and the limit on lookups.
_pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Key, asyncio.Task]] = weakref.WeakKeyDictionary()
_lookups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
REFUSED_SECONDS = 5.0
MAX_WAITING_LOOKUPS = 256  # per process: a flood of made-up tokens beyond this is answered 503 at once


async def check_token(token: str | None, source_types: set[str]) -> None:
    """Refuse a request whose token is missing, unknown, disabled or meant for another endpoint (401/403), before
    its body is read; 503 when the database cannot say, or while a flood of unknown tokens waits for lookups.

    A token seen valid stays admitted: once its 10 s are up it is looked up again in the background while its
    requests go on, so a sender with a good token never waits behind a flood of made-up ones. A token nobody
    has (not a disabled one) is refused from memory for 5 s."""
    if not token:
        common.identify(None, token, source_types)  # raises the missing-token refusal
    key = (security.token_digest(token), frozenset(source_types))
    now = time.monotonic()
    good_until = _known.get(key)
    if good_until is not None:
        if good_until <= now:
            with contextlib.suppress(common.WebhookError):  # too busy to look again now: next time
                _lookup(key, token, source_types)  # again, in the background
        return
    refused = _refused.get(key)
    if refused is not None and refused[0] > now:
        raise refused[1]
    await asyncio.shield(_lookup(key, token, source_types))


def _lookup(key: Key, token: str, source_types: set[str]) -> asyncio.Task:
    """The lookup of `key` under way in this event loop, started if there is none (one per key at a time)."""
    loop = asyncio.get_running_loop()
    pending = _pending.setdefault(loop, {})
    task = pending.get(key)
    if task is None:
        if len(pending) >= MAX_WAITING_LOOKUPS:
            raise common.unavailable("OpsKnight is busy; retry shortly")
        task = pending[key] = loop.create_task(_look_up(key, token, source_types))
        task.add_done_callback(lambda done: _looked_up(pending, key, done))
    return task


def _looked_up(pending: dict[Key, asyncio.Task], key: Key, done: asyncio.Task) -> None:
    pending.pop(key, None)
    if not done.cancelled():
        done.exception()  # retrieved: a background lookup, or every request that waited for it has gone away


async def _look_up(key: Key, token: str, source_types: set[str]) -> None:
    loop = asyncio.get_running_loop()
    lookups = _lookups.get(loop) or _lookups.setdefault(loop, asyncio.Semaphore(LOOKUPS_AT_ONCE))
    async with lookups:
        try:
            await anyio.to_thread.run_sync(_identify, token, source_types)
        except common.WebhookError as refused:
            _known.pop(key, None)
            # Only a token nobody has: a disabled integration enabled again must be let in at once (its sender,
            # Alertmanager say, does not retry the 403 it would get meanwhile).
            if refused.code == "invalid_token":
                _remember(_refused, key, (time.monotonic() + REFUSED_SECONDS, refused))
            raise
    _refused.pop(key, None)
    _remember(_known, key, time.monotonic() + KNOWN_TOKEN_SECONDS)


def _remember(cache: OrderedDict, key: Key, value) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > KNOWN_TOKENS_KEPT:
        cache.popitem(last=False)


def _identify(token: str, source_types: set[str]) -> None:
    try:
        with Session(engine()) as db:  # reads only: closed with a rollback
            common.identify(db, token, source_types)
    except common.DATABASE_ERRORS as exc:
        raise common.database_unavailable(exc) from None


def forget_known_tokens() -> None:
    """Tests: a token disabled by one test must not stay remembered for the next."""
    _known.clear()
    _refused.clear()


# --- 2. the body, within a deadline -----------------------------------------------------------------------------


async def read_body(request: Request) -> bytes:
    """The raw body: 413 beyond OPSKNIGHT_MAX_BODY_BYTES (before reading it all when the length is declared), 408
    when it does not arrive within BODY_SECONDS."""
    limit = settings().max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise common.WebhookError(413, "payload_too_large", f"The body is larger than {limit} bytes")
    chunks, size = [], 0
    try:
        with anyio.fail_after(BODY_SECONDS):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise common.WebhookError(413, "payload_too_large", f"The body is larger than {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        log.warning("webhook body not received within %g s (%d of %s bytes): closing", BODY_SECONDS, size,
                 declared or "?")
        raise common.WebhookError(408, "body_timeout", f"The body did not arrive within {BODY_SECONDS:g} s",
                                  headers={"Connection": "close"}) from None
    except ClientDisconnect:
        log.warning("webhook sender went away mid-body (%d of %s bytes)", size, declared or "?")
        raise common.WebhookError(400, "client_disconnected", "The connection closed before the whole body arrived",
                                  headers={"Connection": "close"}) from None
    return b"".join(chunks)
